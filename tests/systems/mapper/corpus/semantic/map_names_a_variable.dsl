m = Machine(GPU);
IndexTaskMap stencil m;
