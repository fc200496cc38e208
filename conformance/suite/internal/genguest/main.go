// Command genguest builds the contract guest and writes the copy that
// wasihsm embeds: contract.wasm.gz and its stamp, contract.wasm.stamp (Go
// version, SHA-256 of the wasm and of its sources). Run it through `go generate ./conformance/suite`
// (or `make generate`) from the module.
package main

import (
	"fmt"
	"os"

	"github.com/wasihsm/wasihsm/conformance/suite/internal/guestbuild"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "genguest:", err)
		os.Exit(1)
	}
}

func run() error {
	wasm, version, err := guestbuild.Build(guestbuild.GoTool())
	if err != nil {
		return err
	}
	gz, err := guestbuild.Compress(wasm)
	if err != nil {
		return err
	}
	if err := os.WriteFile("contract.wasm.gz", gz, 0o644); err != nil {
		return err
	}
	sources, err := guestbuild.Sources(guestbuild.GoTool())
	if err != nil {
		return err
	}
	if err := os.WriteFile("contract.wasm.stamp", []byte(guestbuild.Stamp(version, wasm, sources)), 0o644); err != nil {
		return err
	}
	fmt.Printf("genguest: contract.wasm.gz: %d bytes (%d uncompressed), built by %s\n", len(gz), len(wasm), version)
	return nil
}
