# Every statement form of the real grammar (written for this corpus).
Task * GPU,OMP,CPU;
Task main CPU;
Task a,b,c IO,PY,PROC;
Region * * * SOCKMEM,SYSMEM;
Region * * GPU FBMEM,ZCMEM;
Region foo 0 GPU ZCMEM;
Region foo rp_ghost CPU RDMEM;
Region * * OMP VIRTUAL;
Layout * * * SOA C_order;
Layout foo bar FBMEM AOS F_order Compact Exact;
Layout * * SYSMEM;
Layout * r ZCMEM Align < 16 Align <= 32 Align > 8 Align >= 64 Align == 128 Align != 3;
InstanceLimit task_4 1;
CollectMemory task_4 *;
CollectMemory * r;
ControlReplicate main;
ControlReplicate a,b;
m = Machine(GPU);
def f(Task task) {
    return m[0, 0];
}
def g(int a, bool b, IPoint p, ISpace s, MSpace z, Task t) {
    x = a;
    print("{} {}", x, b);
    return p;
}
print("top level");
print("two {} {}", 1, 2);
IndexTaskMap foo f;
IndexTaskMap a,b,c f;
IndexTaskMap * f;
IndexTaskMap CPU f;
IndexTaskMap GPU f;
IndexTaskMap OMP f;
SingleTaskMap foo f;
SingleTaskMap a,b f;
SingleTaskMap * f;
SingleTaskMap CPU f;
SingleTaskMap GPU f;
SingleTaskMap OMP f;
def empty_args() {
    return 1;
}
