Task * GPU,CPU;
def f(Task task) {
    return task.ipoint;
}
IndexTaskMap stencil f;
