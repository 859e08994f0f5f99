# Expert mapper for stencil, transcribed from Anjiang-Wei/legion: language/pldi23_scripts/stencil_mappings.
Task * GPU,CPU;
Region * * GPU FBMEM;
Region * * CPU SYSMEM;
Layout * * * SOA C_order;

mgpu = Machine(GPU);
mcpu = Machine(CPU);

# block over GPUs: the linearised tile index ip goes to mgpu[ip / size[1], ip % size[1]]
def linearblock(Task task) {
    ip = task.ipoint[0] * task.ispace[1] + task.ipoint[1];
    return mgpu[ip / mgpu.size[1], ip % mgpu.size[1]];
}

# block over the nodes, then over the node's CPUs
def block_shard_cpu(Task task) {
    ip = task.ipoint[0] * task.ispace[1] + task.ipoint[1];
    n = task.ispace[0] * task.ispace[1];
    node = ip * mcpu.size[0] / n;
    return mcpu[node, ip % mcpu.size[1]];
}

IndexTaskMap stencil,increment linearblock;
IndexTaskMap check,print_time block_shard_cpu;
