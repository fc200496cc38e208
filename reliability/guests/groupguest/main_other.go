//go:build !wasip1

package main

import (
	"fmt"
	"os"
)

// On the host this is not a program: it is a wasm guest.
func main() {
	fmt.Fprintln(os.Stderr, "groupguest: a wasm guest: build it with GOOS=wasip1 GOARCH=wasm")
	os.Exit(2)
}
