# Every expression form, operator precedence and every method/attribute keyword.
m = Machine(GPU);
a = 1 + 2 - 3 * 4 / 5 % 6;
b = a > 1 < 2 >= 3 <= 4 == 5 != 6;
c = True && False || b;
d = (a);
e = (1, 2, 3);
f = -a;
g = a ? b : c ? d : e;
h = *;
i = *e;
j = tuple(k * 2 for k in (0, 1, 2));
k = m.size;
l = m.split(0, 2).merge(0, 1).swap(0, 1).slice(0, 0, 1).reverse(0);
n = m.balance_split(0, 2).auto_split(0, (1, 2)).greedy_split(1, (2, 1));
o = m.volume + m.len + e.len + e.volume;
p = m[0].has(FBMEM);
q = m[*e];
r = m[:];
s = m[1:];
t = m[:-1];
u = e[0:2];
v = m[0, *];
w = CPU;
x = SYSMEM;
y = m[q][0](1, 2)(3);
def fn(Task task) {
    z = task.ipoint[0] + task.ispace[1];
    pp = task.parent.processor(m);
    return m[*pp];
}
