Task * GPU,CPU;
Region stencill * GPU FBMEM;
Layout * * * SOA F_order;
