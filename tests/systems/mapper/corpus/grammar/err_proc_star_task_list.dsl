Task a,* GPU;
