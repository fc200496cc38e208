// Command startupbaseline is the start-up benchmark's baseline in a
// process of its own: it compiles a module from an on-disk compilation
// cache and instantiates it, as `wasihsm run` must, then prints
// "instantiated" and exits. Timed from the start of the process to that
// line, it is what any wazero program pays to get a cached guest ready in
// a new process, next to `wasihsm run`'s start to the guest's first host
// call.
//
// Usage:
//
//	startupbaseline -cache-dir DIR MODULE.wasm
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/wasihsm/wasihsm/bench/internal/startup"
)

func main() {
	cacheDir := flag.String("cache-dir", "", "wazero's compilation cache `directory` (required)")
	flag.Parse()
	if *cacheDir == "" || flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: startupbaseline -cache-dir DIR MODULE.wasm")
		os.Exit(2)
	}
	if err := startup.Load(context.Background(), *cacheDir, flag.Arg(0), false, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("instantiated")
}
