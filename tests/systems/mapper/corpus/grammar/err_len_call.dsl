t = (1, 2);
x = len(t);
