# Expert mapper for stencil, written for this project. It encodes the decisions of the public expert
# (github.com/Anjiang-Wei/legion, language/pldi23_scripts/stencil_mappings at HEAD), run on nodes of
# 4 GPUs with one tile per GPU:
# - GPU first, CPU otherwise, framebuffer on GPUs, system memory on CPUs,
# - struct-of-arrays in F order (dimension 0 fastest: the order in which the kernels walk a tile),
# - tile t (the launch is 1-D) on GPU t % 4 of node t / 4, the CPU-only check and print_time tasks on
#   CPU 0 of the same node (the index divides by the GPU count, as the original does).
Task * GPU,CPU;
Region * * GPU FBMEM;
Region * * CPU SYSMEM;
Layout * * * SOA F_order;

gpus = Machine(GPU);
cpus = Machine(CPU);

def tile_gpu(Task task) {
    t = task.ipoint[0];
    return gpus[t / gpus.size[1], t % gpus.size[1]];
}

def tile_cpu(Task task) {
    return cpus[task.ipoint[0] / gpus.size[1], 0];
}

IndexTaskMap stencil,increment tile_gpu;
IndexTaskMap check,print_time tile_cpu;
