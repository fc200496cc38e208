//go:build !wasip1

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "jws is a WebAssembly guest: build it with GOOS=wasip1 GOARCH=wasm and run it with wasihsm run")
	os.Exit(2)
}
