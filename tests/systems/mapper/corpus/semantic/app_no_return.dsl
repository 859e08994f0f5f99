Task * GPU,CPU;
gpus = Machine(GPU);
def f(Task task) {
    x = task.ipoint[0];
}
IndexTaskMap stencil f;
