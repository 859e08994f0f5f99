size = 3;
