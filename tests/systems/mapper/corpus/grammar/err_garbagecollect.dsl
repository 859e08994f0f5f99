GarbageCollect task_4 *;
