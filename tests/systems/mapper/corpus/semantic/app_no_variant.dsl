cpus = Machine(CPU);
gpus = Machine(GPU);
def f(Task task) {
    return gpus[0, 0];
}
IndexTaskMap check f;
