// Package raw exposes the 35 imports of wasi_ephemeral_crypto and
// wasi_ephemeral_crypto_keys one to one, with every parameter a uint32, as
// docs/semantics.md, #abi and #key-extension lower them. It exists for tests of the host, which must
// be able to pass any handle and any address, also wrong ones; programs
// should use the typed package [github.com/wasihsm/wasihsm/guest/wasicrypto].
//
// It builds for GOOS=wasip1 GOARCH=wasm; on other platforms the package is
// empty.
//
// # Calls
//
// Each function is named after its import in Go style (sign_open is
// [SignOpen]) and takes the lowered parameters in order: a string or buffer
// is an address and a length, and each result after the errno is the
// address of a little-endian u32 that the host writes. The return value is
// the errno, 0 on success; wasicrypto.Errno(e) gives its name.
//
//	var alg = []byte("SHA-256")
//	var state uint32
//
//	e := raw.HashOpen(
//		uint32(uintptr(unsafe.Pointer(&alg[0]))), uint32(len(alg)),
//		uint32(uintptr(unsafe.Pointer(&state))))
//
// # Addresses
//
// An address is a plain number here, so the compiler no longer knows that
// the call uses the memory behind it. Pass addresses of memory that stays
// where it is until the call returns: package-level variables (as above) or
// memory from the heap kept alive with [runtime.KeepAlive] after the call. A
// local variable whose address is taken only as a number may live on the
// goroutine stack, which moves when it grows.
package raw
