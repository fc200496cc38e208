// Package spec holds the facts of the wasi_ephemeral_crypto contract that
// more than one package needs: the errno values and their names, the
// algorithm table (names, kinds, sizes), and the default limits and
// deadlines. docs/semantics.md states the contract; this package is its one
// copy in code, which the others refer to.
//
// The guest SDK (guest/wasicrypto, built for GOOS=wasip1) and the host
// side (provider, wasihost, hsm, the CLI's configuration) import it, so it
// is public, imports only the standard library, and holds data and the few
// rules that read it — no behaviour of either side.
package spec
