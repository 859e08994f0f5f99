def f(Task task) {
}
