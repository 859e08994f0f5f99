x = "abc";
