x = a | b;
