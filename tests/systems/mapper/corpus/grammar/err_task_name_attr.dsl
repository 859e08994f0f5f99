def f(Task task) {
    return task.name;
}
