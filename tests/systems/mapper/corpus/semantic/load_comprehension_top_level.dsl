t = tuple(i * 2 for i in (0, 1));
