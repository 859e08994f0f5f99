# Expert mapper for circuit, transcribed from the public expert-equivalent policy
# (Anjiang-Wei/legion: language/pldi23_scripts/circuit_mappings).
Task * GPU,CPU;
Region * * GPU FBMEM;
Region * * CPU SYSMEM;
Region calculate_new_currents rp_shared GPU ZCMEM;
Region calculate_new_currents rp_ghost GPU ZCMEM;
Region distribute_charge rp_shared GPU ZCMEM;
Region distribute_charge rp_ghost GPU ZCMEM;
Region update_voltages rp_shared GPU ZCMEM;
Layout * * * SOA C_order;

mgpu_init = Machine(GPU);
m = mgpu_init;

def cyclic1d(Task task) {
    return m[task.ipoint[0] / m.size[1], task.ipoint[0] % m.size[1]];
}

IndexTaskMap calculate_new_currents,distribute_charge,update_voltages cyclic1d;
