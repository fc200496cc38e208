package provider

import "github.com/wasihsm/wasihsm/spec"

// Kind says what an algorithm does, and so which operations apply to it.
// It is the contract's kind, defined in package spec.
type Kind = spec.Kind

// The kinds of docs/semantics.md#algorithms.
const (
	KindHash         = spec.KindHash
	KindXOF          = spec.KindXOF
	KindAEAD         = spec.KindAEAD
	KindSignature    = spec.KindSignature
	KindMAC          = spec.KindMAC
	KindKDF          = spec.KindKDF
	KindKeyAgreement = spec.KindKeyAgreement
)

// Algorithm describes one algorithm name of docs/semantics.md#algorithms; the table
// of them is package spec's. Values are immutable; get them from [Lookup]
// or [Algorithms].
type Algorithm = spec.Algorithm

// Lookup returns the algorithm registered under the exact name, and whether
// there is one.
func Lookup(name string) (Algorithm, bool) { return spec.Lookup(name) }

// MustLookup returns the algorithm of a name that is known to be registered.
// It panics otherwise, so use it only with constant names.
func MustLookup(name string) Algorithm {
	a, ok := spec.Lookup(name)
	if !ok {
		panic("provider: unregistered algorithm " + name)
	}
	return a
}

// Algorithms returns every registered algorithm, sorted by kind, then name.
func Algorithms() []Algorithm { return spec.Algorithms() }

// HKDFHash reports whether h may be the hash of an HKDF key
// (docs/semantics.md#algorithms: SHA-256, SHA-384 or SHA-512).
func HKDFHash(h Algorithm) bool { return spec.HKDFHash(h) }

// LookupBytes is Lookup for a name held in a byte slice (such as guest
// memory); it does not allocate.
func LookupBytes(name []byte) (Algorithm, bool) { return spec.LookupBytes(name) }
