IndexTaskMap stencil place;
m = Machine(GPU);
def place(Task task) {
    return m[0, 0];
}
