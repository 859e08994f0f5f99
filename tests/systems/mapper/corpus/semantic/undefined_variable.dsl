m = Machine(GPU);
def f(Task task) {
    return gpu[0, 0];
}
IndexTaskMap stencil f;
