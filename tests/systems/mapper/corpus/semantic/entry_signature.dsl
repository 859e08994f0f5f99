m = Machine(GPU);
def f(Task task, int k) {
    return m[0, k];
}
IndexTaskMap stencil f;
