//go:build !cgo

package hsm

// Stats returns the zero Stats: a build without PKCS#11 support has no
// pool and no token.
func (b *Backend) Stats() Stats { return Stats{} }
