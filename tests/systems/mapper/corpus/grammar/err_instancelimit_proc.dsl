# InstanceLimit takes a task and a number; the older DISTAL form names a processor kind.
Task * GPU;
InstanceLimit task_5 GPU 1;
