# Expert mapper for pennant, written for this project. It encodes the decisions of the public expert
# (github.com/Anjiang-Wei/legion, language/pldi23_scripts/pennant_mappings at HEAD), run on nodes of
# 4 GPUs with one strip per GPU:
# - GPU first, CPU otherwise, framebuffer on GPUs, system memory on CPUs, except the boundary points
#   (rp_all_shared_p, rp_all_ghost_p), which stay in zero-copy memory,
# - struct-of-arrays, C order,
# - every index launch on GPUs deals the strips cyclically over the nodes (strip p on node
#   p % nodes, GPU p / nodes), index launches on CPUs go to CPU 0 of the same node.
Task * GPU,CPU;
Region * * GPU FBMEM;
Region * * CPU SYSMEM;
Region * rp_all_shared_p GPU ZCMEM;
Region * rp_all_ghost_p GPU ZCMEM;
Layout * * * SOA C_order;

gpus = Machine(GPU);
cpus = Machine(CPU);

def strips_over_nodes(Task task) {
    p = task.ipoint[0];
    return gpus[p % gpus.size[0], p / gpus.size[0]];
}

def strips_over_node_cpus(Task task) {
    return cpus[task.ipoint[0] % gpus.size[0], 0];
}

IndexTaskMap GPU strips_over_nodes;
IndexTaskMap CPU strips_over_node_cpus;
