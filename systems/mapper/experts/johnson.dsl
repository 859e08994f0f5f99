# Expert mapper for Johnson's 3-D algorithm, transcribed from Anjiang-Wei/taco: build/johnsonMM-cuda/mappings.
# As in the original, every 3-D point and every tile goes to GPU 0 of the node its block falls on
# (auto3d_zero / block_zero). init_cublas uses a 1-D block map (block_zero indexes two launch dimensions).
Task * GPU,OMP,CPU;
Region * * * SOCKMEM,SYSMEM;
Region * * GPU FBMEM,ZCMEM;
Layout * * * SOA C_order;

def block_primitive(IPoint x, ISpace y, MSpace z, int dim1, int dim2) {
    return x[dim1] * z.size[dim2] / y.size[dim1];
}

m_2d = Machine(GPU);
m_1d = m_2d.merge(0, 1);

def auto3d_zero(Task task) {
    m_4d = m_2d.auto_split(0, task.ispace);
    upper = tuple(block_primitive(task.ipoint, task.ispace, m_4d, i, i) for i in (0,1,2));
    return m_4d[*upper, 0];
}

def block_zero(Task task) {
    m_3d = m_2d.auto_split(0, task.ispace);
    upper = tuple(block_primitive(task.ipoint, task.ispace, m_3d, i, i) for i in (0,1));
    return m_3d[*upper, 0];
}

def block1d(Task task) {
    return m_1d[block_primitive(task.ipoint, task.ispace, m_1d, 0, 0)];
}

def same_point(Task task) {
    return m_2d[*task.parent.processor(m_2d)];
}

IndexTaskMap task_5 auto3d_zero;
IndexTaskMap task_1,task_2,task_3 block_zero;
IndexTaskMap init_cublas block1d;
SingleTaskMap task_4 same_point;
