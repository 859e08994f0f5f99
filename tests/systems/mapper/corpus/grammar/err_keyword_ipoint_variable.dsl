def f(Task task) {
    ipoint = task.ipoint;
    return ipoint;
}
