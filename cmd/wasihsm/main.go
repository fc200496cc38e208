package main

import (
	"context"
	"os"
)

func main() {
	os.Exit(newCLI().run(context.Background(), os.Args[1:]))
}

// newCLI returns the command wired to the process.
func newCLI() *cli {
	return &cli{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, lookupEnv: os.LookupEnv}
}
