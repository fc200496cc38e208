//go:build !unix

package softhsmtest

// shutdownGroup does nothing: groups need Unix (p11-kit servers, signals).
func shutdownGroup() {}
