n = m.size;
m = Machine(GPU);
