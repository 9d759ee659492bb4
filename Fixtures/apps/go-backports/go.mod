module example.com/backports

go 1.25
