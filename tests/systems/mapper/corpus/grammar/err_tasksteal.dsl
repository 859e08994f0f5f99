TaskSteal * CPU;
