m = Machine(GPU);
m = Machine(CPU);
