Task * GPU;
IndexTaskMap stencil place;
