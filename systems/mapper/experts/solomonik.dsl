# Expert mapper for Solomonik's 2.5-D algorithm, transcribed from Anjiang-Wei/taco: build/solomonikMM-cuda/mappings.
# The compute launch (rpoc, rpoc, c) is split hierarchically over a 6-D machine space (new_func).
Task * GPU,OMP,CPU;
Region * * * SOCKMEM,SYSMEM;
Region * * GPU FBMEM,ZCMEM;
Layout * * * SOA C_order;
CollectMemory * *;

def block_primitive(IPoint x, ISpace y, MSpace z, int dim1, int dim2) {
    return x[dim1] * z.size[dim2] / y.size[dim1];
}

def cyclic_primitive(IPoint x, ISpace y, MSpace z, int dim1, int dim2) {
    return x[dim1] % z.size[dim2];
}

m_2d = Machine(GPU);
m_1d = m_2d.merge(0, 1);

def new_func(Task task) {
    m_4d = m_2d.auto_split(0, task.ispace);
    m_6d = m_4d.auto_split(3, task.ispace / m_4d[:-1]);
    upper = tuple(block_primitive(task.ipoint, task.ispace, m_6d, i, i) for i in (0,1,2));
    lower = tuple(cyclic_primitive(task.ipoint, task.ispace, m_6d, i, i + 3) for i in (0,1,2));
    return m_6d[*upper, *lower];
}

def block2d(Task task) {
    m_3d = m_2d.auto_split(0, task.ispace);
    m_4d = m_3d.auto_split(2, task.ispace / m_3d[:-1]);
    upper = tuple(block_primitive(task.ipoint, task.ispace, m_4d, i, i) for i in (0,1));
    lower = tuple(cyclic_primitive(task.ipoint, task.ispace, m_4d, i, i + 2) for i in (0,1));
    return m_4d[*upper, *lower];
}

def block1d(Task task) {
    return m_1d[block_primitive(task.ipoint, task.ispace, m_1d, 0, 0)];
}

def same_point(Task task) {
    return m_2d[*task.parent.processor(m_2d)];
}

IndexTaskMap task_5 new_func;
IndexTaskMap task_1,task_2,task_3 block2d;
IndexTaskMap init_cublas block1d;
SingleTaskMap task_4 same_point;
