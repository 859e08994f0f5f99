m = Machine(GPU);
x = m.size + 1;
