x = !a;
