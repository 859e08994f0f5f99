# Expert mapper for pennant, transcribed from Anjiang-Wei/legion: language/pldi23_scripts/pennant_mappings.
Task * GPU,CPU;
Region * * GPU FBMEM;
Region * * CPU SYSMEM;
Layout * * * SOA C_order;

mgpu = Machine(GPU);

# cyclic over nodes: piece ip goes to node ip % nodes, GPU ip / nodes
def cyclic(Task task) {
    ip = task.ipoint[0];
    return mgpu[ip % mgpu.size[0], ip / mgpu.size[0]];
}

IndexTaskMap * cyclic;
