# Expert mapper for Solomonik's 2.5-D algorithm (DISTAL), written for this project. It encodes the
# decisions of the public expert (github.com/Anjiang-Wei/taco, build/solomonikMM-cuda/mappings at HEAD),
# run with one rank of 4 GPUs per node:
# - GPU variants first, then OpenMP, then CPU, socket/system memory on hosts, framebuffer (zero-copy as
#   fallback) on GPUs, struct-of-arrays, C order,
# - back-pressure: one GEMM (task_4) in flight per GPU, the GEMM's inputs are not tracked after use,
# - the (rpoc, rpoc, c) launch task_5: blocked over the nodes (auto_split of the node dimension), then
#   cyclically over the GPUs of a node (auto_split of the GPU dimension by the per-node block),
# - each GEMM on its parent's GPU, the placement launches (rpoc, rpoc, 1) linearised (x fastest) and dealt
#   cyclically over the nodes, then over the GPUs, init_cublas blocked over all GPUs.
Task * GPU,OMP,CPU;
Region * * * SOCKMEM,SYSMEM;
Region * * GPU FBMEM,ZCMEM;
Layout * * * SOA C_order;
InstanceLimit task_4 1;
CollectMemory task_4 *;

def block_index(IPoint p, ISpace s, MSpace m, int d, int md) {
    return p[d] * m.size[md] / s[d];
}

def cyclic_index(IPoint p, ISpace s, MSpace m, int d, int md) {
    return p[d] % m.size[md];
}

gpus = Machine(GPU);
gpus_flat = gpus.merge(0, 1);

def parent_gpu(Task task) {
    return gpus[*task.parent.processor(gpus)];
}

def blocked_gpus(Task task) {
    return gpus_flat[block_index(task.ipoint, task.ispace, gpus_flat, 0, 0)];
}

def placement_cyclic(Task task) {
    lin = task.ipoint[0] + task.ispace[0] * task.ipoint[1] + task.ispace[0] * task.ispace[1] * task.ipoint[2];
    return gpus[lin % gpus.size[0], (lin / gpus.size[0]) % gpus.size[1]];
}

def layers_3d(Task task) {
    per_node = gpus.auto_split(0, task.ispace);
    per_gpu = per_node.auto_split(3, task.ispace / per_node[:-1]);
    node_part = tuple(block_index(task.ipoint, task.ispace, per_gpu, d, d) for d in (0, 1, 2));
    gpu_part = tuple(cyclic_index(task.ipoint, task.ispace, per_gpu, d, d + 3) for d in (0, 1, 2));
    return per_gpu[*node_part, *gpu_part];
}

SingleTaskMap task_4 parent_gpu;
IndexTaskMap task_5 layers_3d;
IndexTaskMap task_1,task_2,task_3 placement_cyclic;
IndexTaskMap init_cublas blocked_gpus;
