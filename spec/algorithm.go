package spec

import (
	"fmt"
	"sort"
)

// Kind says what an algorithm does, and so which operations apply to it.
type Kind uint8

// The kinds of docs/semantics.md#algorithms.
const (
	KindHash         Kind = iota + 1 // fixed-length digest (SHA-2, SHA-3)
	KindXOF                          // extendable-output function (SHAKE)
	KindAEAD                         // AES-GCM
	KindSignature                    // ECDSA, EdDSA, RSA
	KindMAC                          // HMAC (spec: a "signature" made with a symmetric key)
	KindKDF                          // HKDF
	KindKeyAgreement                 // ECDH, X25519
)

var kindNames = [...]string{
	KindHash: "hash", KindXOF: "xof", KindAEAD: "aead", KindSignature: "signature",
	KindMAC: "mac", KindKDF: "kdf", KindKeyAgreement: "key-agreement",
}

// String returns the kind's lower-case name, as used in logs and tables.
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Keyed reports whether algorithms of this kind need a key.
func (k Kind) Keyed() bool { return k != KindHash && k != KindXOF }

// Symmetric reports whether keys of this kind are secret keys with no public
// half.
func (k Kind) Symmetric() bool { return k == KindAEAD || k == KindMAC || k == KindKDF }

// Algorithm describes one algorithm name of docs/semantics.md#algorithms. Values are
// immutable; get them from [Lookup] or [Algorithms].
type Algorithm struct {
	// Name is the exact, case-sensitive name a guest passes.
	Name string
	// Kind says what the algorithm does.
	Kind Kind
	// KeySize is the key length in bytes for AES and the generated key length
	// for HMAC; for RSA it is the default modulus size in bits; 0 otherwise.
	KeySize int
	// OutputSize is the digest, signature, tag or shared-secret length in
	// bytes, or 0 when it depends on the key (RSA) or the caller (XOF, HKDF).
	OutputSize int
	// Hash names the hash the algorithm is built on (HS256: "SHA-256"), or
	// "" when there is none or the caller chooses it (HKDF).
	Hash string
	// Curve names the elliptic curve ("P-256", "Ed25519", "X25519"), or "".
	Curve string
	// NonceSize is the AEAD nonce length in bytes; 0 otherwise.
	NonceSize int
	// TagSize is the AEAD tag length in bytes; 0 otherwise.
	TagSize int
}

// Valid reports whether a is a registered algorithm (the zero Algorithm is not).
func (a Algorithm) Valid() bool { return a.Name != "" }

// String returns the algorithm's name.
func (a Algorithm) String() string { return a.Name }

// The table of the contract's algorithms. It is fixed: backends declare
// what they support (provider.Backend.Supports), never by adding names here.
var registry = map[string]Algorithm{
	"SHA-1":    {Name: "SHA-1", Kind: KindHash, OutputSize: 20},
	"SHA-224":  {Name: "SHA-224", Kind: KindHash, OutputSize: 28},
	"SHA-256":  {Name: "SHA-256", Kind: KindHash, OutputSize: 32},
	"SHA-384":  {Name: "SHA-384", Kind: KindHash, OutputSize: 48},
	"SHA-512":  {Name: "SHA-512", Kind: KindHash, OutputSize: 64},
	"SHA3-224": {Name: "SHA3-224", Kind: KindHash, OutputSize: 28},
	"SHA3-256": {Name: "SHA3-256", Kind: KindHash, OutputSize: 32},
	"SHA3-384": {Name: "SHA3-384", Kind: KindHash, OutputSize: 48},
	"SHA3-512": {Name: "SHA3-512", Kind: KindHash, OutputSize: 64},
	"SHAKE128": {Name: "SHAKE128", Kind: KindXOF},
	"SHAKE256": {Name: "SHAKE256", Kind: KindXOF},

	"A128GCM": {Name: "A128GCM", Kind: KindAEAD, KeySize: 16, NonceSize: 12, TagSize: 16, OutputSize: 16},
	"A192GCM": {Name: "A192GCM", Kind: KindAEAD, KeySize: 24, NonceSize: 12, TagSize: 16, OutputSize: 16},
	"A256GCM": {Name: "A256GCM", Kind: KindAEAD, KeySize: 32, NonceSize: 12, TagSize: 16, OutputSize: 16},

	"HS256": {Name: "HS256", Kind: KindMAC, KeySize: 32, OutputSize: 32, Hash: "SHA-256"},
	"HS384": {Name: "HS384", Kind: KindMAC, KeySize: 48, OutputSize: 48, Hash: "SHA-384"},
	"HS512": {Name: "HS512", Kind: KindMAC, KeySize: 64, OutputSize: 64, Hash: "SHA-512"},

	"ES256": {Name: "ES256", Kind: KindSignature, OutputSize: 64, Hash: "SHA-256", Curve: "P-256"},
	"ES384": {Name: "ES384", Kind: KindSignature, OutputSize: 96, Hash: "SHA-384", Curve: "P-384"},
	"ES512": {Name: "ES512", Kind: KindSignature, OutputSize: 132, Hash: "SHA-512", Curve: "P-521"},
	"EdDSA": {Name: "EdDSA", Kind: KindSignature, OutputSize: 64, Curve: "Ed25519"},

	"RS256": {Name: "RS256", Kind: KindSignature, KeySize: 2048, Hash: "SHA-256"},
	"RS384": {Name: "RS384", Kind: KindSignature, KeySize: 2048, Hash: "SHA-384"},
	"RS512": {Name: "RS512", Kind: KindSignature, KeySize: 2048, Hash: "SHA-512"},
	"PS256": {Name: "PS256", Kind: KindSignature, KeySize: 2048, Hash: "SHA-256"},
	"PS384": {Name: "PS384", Kind: KindSignature, KeySize: 2048, Hash: "SHA-384"},
	"PS512": {Name: "PS512", Kind: KindSignature, KeySize: 2048, Hash: "SHA-512"},

	"ECDH-P256": {Name: "ECDH-P256", Kind: KindKeyAgreement, OutputSize: 32, Curve: "P-256"},
	"ECDH-P384": {Name: "ECDH-P384", Kind: KindKeyAgreement, OutputSize: 48, Curve: "P-384"},
	"X25519":    {Name: "X25519", Kind: KindKeyAgreement, OutputSize: 32, Curve: "X25519"},

	"HKDF": {Name: "HKDF", Kind: KindKDF},
}

// Lookup returns the algorithm registered under the exact name, and whether
// there is one.
func Lookup(name string) (Algorithm, bool) {
	a, ok := registry[name]
	return a, ok
}

// Algorithms returns every registered algorithm, sorted by kind, then name.
func Algorithms() []Algorithm {
	out := make([]Algorithm, 0, len(registry))
	for _, a := range registry {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// IsRSA reports whether the algorithm signs with RSA (RS* and PS*).
func (a Algorithm) IsRSA() bool { return a.Kind == KindSignature && a.KeySize > 0 }

// IsPSS reports whether the algorithm is RSASSA-PSS (PS*).
func (a Algorithm) IsPSS() bool { return a.IsRSA() && a.Name[0] == 'P' }

// HKDFHash reports whether h may be the hash of an HKDF key (docs/semantics.md#algorithms:
// SHA-256, SHA-384 or SHA-512).
func HKDFHash(h Algorithm) bool {
	switch h.Name {
	case "SHA-256", "SHA-384", "SHA-512":
		return true
	}
	return false
}

// LookupBytes is Lookup for a name held in a byte slice (such as guest
// memory); it does not allocate.
func LookupBytes(name []byte) (Algorithm, bool) {
	a, ok := registry[string(name)]
	return a, ok
}
