module example.com/hello

go 1.23

toolchain go1.23.4
