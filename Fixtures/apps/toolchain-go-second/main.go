package main

import (
	"fmt"
	"runtime"
)

func main() { fmt.Printf("second app on %s\n", runtime.Version()) }
