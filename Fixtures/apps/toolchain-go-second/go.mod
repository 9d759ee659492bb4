module example.com/secondgo

go 1.27.3
