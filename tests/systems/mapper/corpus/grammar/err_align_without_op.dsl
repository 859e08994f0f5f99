Layout * * * Align 128;
