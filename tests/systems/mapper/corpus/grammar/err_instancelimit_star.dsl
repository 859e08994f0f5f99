InstanceLimit * 1;
