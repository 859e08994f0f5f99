Task * GPU
Region * * GPU FBMEM;
