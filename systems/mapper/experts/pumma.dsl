# Expert mapper for PUMMA, transcribed from Anjiang-Wei/taco: build/pummaMM-cuda/mappings
# (the original names the machine space inside the IndexTaskMap statement, an older syntax; here the
# block-cyclic function indexes the transformed space itself).
Task * GPU,OMP,CPU;
Region * * * SOCKMEM,SYSMEM;
Region * * GPU FBMEM,ZCMEM;
Layout * * * SOA C_order;
InstanceLimit task_5 GPU 1;
CollectMemory task_4 *;

m4 = Machine(GPU);
# (nodes, gpus) -> (node_a, node_b, gpu_a, gpu_b): both levels split as evenly as possible in 2-D
m_bc = m4.balance_split(0, 2).balance_split(2, 2);

# block over the nodes, cyclic over the GPUs of a node
def block_cyclic(Task task) {
    a = task.ipoint[0] * m_bc.size[0] / task.ispace[0];
    b = task.ipoint[1] * m_bc.size[1] / task.ispace[1];
    c = task.ipoint[0] % m_bc.size[2];
    d = task.ipoint[1] % m_bc.size[3];
    return m_bc[a, b, c, d];
}

def same_point(Task task) {
    return m4[*task.parent.processor(m4)];
}

def linear(Task task) {
    return m4[task.ipoint[0] / m4.size[1], task.ipoint[0] % m4.size[1]];
}

IndexTaskMap task_1,task_2,task_3,task_5,taco_fill,taco_validate block_cyclic;
IndexTaskMap init_cublas linear;
SingleTaskMap task_4 same_point;
