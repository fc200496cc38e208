// Command contract is a test guest that checks every rule of docs/semantics.md
// (#abi to #errors, and #key-extension) from inside a real wasm instance, through the raw imports, with
// handles and addresses of its own choosing — wrong ones included.
//
// It prints one line per scenario, "ok NAME" or "FAIL NAME: why", and for
// each signature it makes a line "sig ALG SPKI MSG SIG" (hex) that the host
// test verifies with the standard library. With arguments it runs only the
// scenarios named.
//
// The host that runs it must be configured as wasihost's contract test
// configures it (a small handle and buffering limit, and managed keys whose
// names make the provider fail in known ways); see wasihost/contract_test.go.
package main
