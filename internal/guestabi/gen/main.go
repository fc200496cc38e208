// Command gen writes the files of package guestabi (the C header and the
// Rust raw module of the guest SDKs). Run it through `go generate
// ./internal/guestabi` (or `make generate`).
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/wasihsm/wasihsm/internal/guestabi"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "guestabi/gen:", err)
		os.Exit(1)
	}
}

func run() error {
	files, err := guestabi.Render(context.Background())
	if err != nil {
		return err
	}
	root := filepath.Join("..", "..") // go generate runs in internal/guestabi
	var names []string
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		path := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, files[name], 0o644); err != nil {
			return err
		}
		fmt.Printf("guestabi/gen: %s: %d bytes\n", name, len(files[name]))
	}
	return nil
}
