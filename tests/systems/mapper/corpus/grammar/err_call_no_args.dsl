def f(int a) { return a; }
x = f();
