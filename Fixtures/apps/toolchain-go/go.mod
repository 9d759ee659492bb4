module example.com/upstreamgo

go 1.27
