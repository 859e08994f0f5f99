# Expert mapper for COSMA (DISTAL), written for this project. It encodes the decisions of the public
# expert (github.com/Anjiang-Wei/taco, build/cosma-cuda/mappings at HEAD), which the authors ran with 4
# ranks of one GPU per node (benchmark_lassen.py: jsrun -a 4, -ll:gpu 1), so Machine(GPU) is (ranks, 1):
# - GPU variants first, then OpenMP, then CPU, socket/system memory on hosts, framebuffer (zero-copy as
#   fallback) on GPUs, struct-of-arrays, C order, the GEMM's inputs are not tracked after use,
# - the (gx, gy, gz) GEMM launch blocked over the ranks (auto_split of the rank dimension),
# - the placement launches: points linearised over the evenly split rank grid (x fastest) and dealt
#   cyclically over the ranks, init_cublas point i on rank i.
Task * GPU,OMP,CPU;
Region * * * SOCKMEM,SYSMEM;
Region * * GPU FBMEM,ZCMEM;
Layout * * * SOA C_order;
CollectMemory task_4 *;

def block_index(IPoint p, ISpace s, MSpace m, int d, int md) {
    return p[d] * m.size[md] / s[d];
}

ranks = Machine(GPU);

def gemm_blocks(Task task) {
    grid = ranks.auto_split(0, task.ispace);
    block = tuple(block_index(task.ipoint, task.ispace, grid, d, d) for d in (0, 1, 2));
    return grid[*block, 0];
}

def placement_cyclic(Task task) {
    even = ranks.auto_split(0, (1, 1, 1));
    nx = even.size[2];
    ny = even.size[1];
    lin = task.ipoint[0] + task.ipoint[1] * nx + task.ipoint[2] * nx * ny;
    return ranks[lin % ranks.size[0], 0];
}

def one_per_rank(Task task) {
    return ranks[task.ipoint[0], 0];
}

IndexTaskMap task_1,task_2,task_3 placement_cyclic;
IndexTaskMap task_4 gemm_blocks;
IndexTaskMap init_cublas one_per_rank;
