// C++-style comments are comments too
Task   *	GPU ;   # tabs and trailing spaces
Region * * GPU
    FBMEM;        // a statement may span lines
x=1;y=2;          # statements may share a line
Tasks = 3;        # a longer word than a keyword is an identifier
size2 = 4;
Machine2 = 5;
z = 12;
