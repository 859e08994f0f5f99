m = Machine(GPU);
x = m.decompose(0, (1, 2));
