# A complete mapper using functions, transformations and every map statement form.
Task * GPU,CPU;
Region * * GPU FBMEM;
Region * * CPU SYSMEM;
Layout * * * SOA F_order;
gpus = Machine(GPU);
flat = gpus.merge(0, 1);
def block(Task task) {
    i = task.ipoint[0];
    return flat[i * flat.size[0] / task.ispace[0]];
}
def lin(IPoint p, ISpace s) {
    return p[0] * s[1] + p[1];
}
IndexTaskMap stencil,increment block;
