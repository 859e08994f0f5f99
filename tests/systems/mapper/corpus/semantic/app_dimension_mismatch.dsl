Task * GPU,CPU;
gpus = Machine(GPU);
def f(Task task) {
    return gpus[task.ipoint[0]];
}
IndexTaskMap stencil f;
