# Expert mapper for circuit, written for this project. It encodes the decisions of the public expert
# (github.com/Anjiang-Wei/legion, language/pldi23_scripts/circuit_mappings at HEAD), which the authors
# ran on nodes of 4 GPUs and 4 CPUs (-ll:gpu 4 -ll:cpu 4, one superpiece per GPU):
# - every task on a GPU when it has a GPU variant, else on a CPU,
# - regions in the GPU's framebuffer (system memory on CPUs), except the shared and ghost nodes, which
#   stay in zero-copy memory so that the charge reductions of neighbouring superpieces need no copies,
# - struct-of-arrays, C order,
# - superpiece p on GPU p % 4 of node p / 4 (blocked), its CPU-only set-up tasks on CPU 0 of that node.
Task * GPU,CPU;
Region * * GPU FBMEM;
Region * * CPU SYSMEM;
Region * rp_shared GPU ZCMEM;
Region * rp_ghost GPU ZCMEM;
Layout * * * SOA C_order;

gpus = Machine(GPU);
cpus = Machine(CPU);

def superpiece_gpu(Task task) {
    p = task.ipoint[0];
    return gpus[p / gpus.size[1], p % gpus.size[1]];
}

def superpiece_cpu(Task task) {
    p = task.ipoint[0];
    return cpus[p / cpus.size[1], 0];
}

IndexTaskMap calculate_new_currents,distribute_charge,update_voltages superpiece_gpu;
IndexTaskMap init_piece,init_pointers,print_summary superpiece_cpu;
