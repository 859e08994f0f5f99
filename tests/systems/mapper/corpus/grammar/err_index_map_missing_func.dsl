IndexTaskMap foo;
