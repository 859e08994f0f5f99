Region * * foo FBMEM;
