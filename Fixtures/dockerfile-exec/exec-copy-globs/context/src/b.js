jb
