# Expert mapper for CANNON (DISTAL), written for this project. It encodes the decisions of the public expert
# (github.com/Anjiang-Wei/taco, build/cannonMM-cuda/mappings at HEAD, the SUMMA, PUMMA and Cannon files hold
# the same mapping), run with one rank of 4 GPUs per node:
# - GPU variants first, then OpenMP, then CPU, host data in socket memory when possible, framebuffer
#   (zero-copy as fallback) on GPUs, struct-of-arrays, C order (cuBLAS needs C-order tiles),
# - back-pressure: one task_4 (GEMM) and one task_6 (k step) in flight per processor, the GEMM's inputs
#   are not tracked after use (CollectMemory),
# - tiles, fills, placement and validation: the (2gx, 2gy) grid blocked over nodes (auto_split of the node
#   dimension by the launch domain), then cyclically over each node's GPUs,
# - init_cublas: point i on GPU i, task_7 blocked over the OpenMP processors, each GEMM on its parent's GPU.
Task * GPU,OMP,CPU;
Region * * * SOCKMEM,SYSMEM;
Region * * GPU FBMEM,ZCMEM;
Layout * * * SOA C_order;
InstanceLimit task_4 1;
InstanceLimit task_6 1;
CollectMemory task_4 *;

def block_index(IPoint p, ISpace s, MSpace m, int d, int md) {
    return p[d] * m.size[md] / s[d];
}

def cyclic_index(IPoint p, ISpace s, MSpace m, int d, int md) {
    return p[d] % m.size[md];
}

gpus = Machine(GPU);
gpus_flat = gpus.merge(0, 1);
omps = Machine(OMP);

def tiles_2d(Task task) {
    per_node = gpus.auto_split(0, task.ispace);
    per_gpu = per_node.auto_split(2, task.ispace / per_node[:-1]);
    node_part = tuple(block_index(task.ipoint, task.ispace, per_gpu, d, d) for d in (0, 1));
    gpu_part = tuple(cyclic_index(task.ipoint, task.ispace, per_gpu, d, d + 2) for d in (0, 1));
    return per_gpu[*node_part, *gpu_part];
}

def every_gpu(Task task) {
    return gpus_flat[task.ipoint[0]];
}

def tiles_2d_omp(Task task) {
    per_node = omps.auto_split(0, task.ispace);
    node_part = tuple(block_index(task.ipoint, task.ispace, per_node, d, d) for d in (0, 1));
    return per_node[*node_part, 0];
}

def parent_gpu(Task task) {
    return gpus[*task.parent.processor(gpus)];
}

IndexTaskMap task_1,task_2,task_3,taco_fill,taco_validate tiles_2d;
IndexTaskMap init_cublas every_gpu;
IndexTaskMap task_7 tiles_2d_omp;
SingleTaskMap task_4 parent_gpu;
