m = Machine(GPU);
b = m.balance_split(1, 4);
