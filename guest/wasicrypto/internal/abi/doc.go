// Package abi declares the wasm imports of the wasi_ephemeral_crypto and
// wasi_ephemeral_crypto_keys host modules, lowered as docs/semantics.md, #abi and #key-extension
// say. It is the one place in the guest SDK that says //go:wasmimport; the
// typed package wasicrypto and the uint32 package raw both call it.
//
// # Parameters
//
// Every parameter is an i32 on the wire. Handles and lengths are uint32.
// Pointers to guest memory are unsafe.Pointer, and the out-parameters where
// the host writes a new handle or a length are *uint32: a pointer type keeps
// the compiler aware that the call uses that memory, so the memory stays
// allocated until the call returns. The declarations are //go:noescape
// because the host keeps no pointer after a call returns; a host call runs
// no Go code, so a buffer on the goroutine stack cannot move during it.
//
// Every function returns the errno (0 is success).
package abi
