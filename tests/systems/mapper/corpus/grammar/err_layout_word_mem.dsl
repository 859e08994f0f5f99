Layout * * foo SOA;
