print("abc);
