// Package spec holds the facts of the wasi_ephemeral_crypto contract that
// both sides of the ABI need: the errno values and their names, and the
// algorithm table (names, kinds, sizes). docs/semantics.md states the
// contract; this package is its one copy in code.
//
// The guest SDK (guest/wasicrypto, built for GOOS=wasip1) and the host
// (provider, wasihost) import it, so it is public, imports only the
// standard library, and holds data and the few rules that read it — no
// behaviour of either side.
package spec
