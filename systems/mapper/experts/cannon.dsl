# Expert mapper for Cannon's algorithm, transcribed from Anjiang-Wei/taco: build/cannonMM-cuda/mappings.
# (The original writes "InstanceLimit task_5 GPU 1;", which this grammar accepts as a GPU-only limit.)
Task * GPU,OMP,CPU;
Region * * * SOCKMEM,SYSMEM;
Region * * GPU FBMEM,ZCMEM;
Layout * * * SOA C_order;
InstanceLimit task_5 GPU 1;
InstanceLimit task_7 GPU 1;
CollectMemory task_4 *;

def block_primitive(IPoint x, ISpace y, MSpace z, int dim1, int dim2) {
    return x[dim1] * z.size[dim2] / y.size[dim1];
}

def cyclic_primitive(IPoint x, ISpace y, MSpace z, int dim1, int dim2) {
    return x[dim1] % z.size[dim2];
}

m_2d = Machine(GPU);
m_1d = m_2d.merge(0, 1);
m_omp = Machine(OMP);

def block1d(Task task) {
    return m_1d[block_primitive(task.ipoint, task.ispace, m_1d, 0, 0)];
}

def auto2d(Task task) {
    m_3d = m_2d.auto_split(0, task.ispace);
    m_4d = m_3d.auto_split(2, task.ispace / m_3d[:-1]);
    upper = tuple(block_primitive(task.ipoint, task.ispace, m_4d, i, i) for i in (0,1));
    lower = tuple(cyclic_primitive(task.ipoint, task.ispace, m_4d, i, i + 2) for i in (0,1));
    return m_4d[*upper, *lower];
}

def auto2d_omp(Task task) {
    m_3d = m_omp.auto_split(0, task.ispace);
    upper = tuple(block_primitive(task.ipoint, task.ispace, m_3d, i, i) for i in (0,1));
    return m_3d[*upper, 0];
}

def same_point(Task task) {
    return m_2d[*task.parent.processor(m_2d)];
}

IndexTaskMap task_1,task_2,task_3,taco_fill,taco_validate auto2d;
IndexTaskMap init_cublas block1d;
IndexTaskMap task_7 auto2d_omp;
SingleTaskMap task_4 same_point;
