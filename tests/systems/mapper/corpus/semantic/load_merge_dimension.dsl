m = Machine(GPU);
m1 = m.merge(0, 2);
