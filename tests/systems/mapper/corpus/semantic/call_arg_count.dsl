def helper(int a, int b) {
    return a + b;
}
m = Machine(GPU);
def f(Task task) {
    return m[helper(1), 0];
}
IndexTaskMap stencil f;
