def f(Task t) {
    def g(Task u) { return 1; }
    return 2;
}
