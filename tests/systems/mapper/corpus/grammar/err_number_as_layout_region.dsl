Layout * 0 * SOA;
