ControlReplicate *;
