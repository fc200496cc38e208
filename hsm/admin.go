package hsm

// This file holds the types of the key administration API ([Admin]);
// admin_cgo.go implements it, admin_nocgo.go refuses it without cgo.

// AdminOptions configures [OpenAdmin].
type AdminOptions struct {
	// ReadOnly opens a read-only session: enough to list and inspect
	// keys (`wasihsm doctor`), not to create or delete them. Tokens that
	// are write-protected, or short of read-write sessions, accept it.
	ReadOnly bool
}

// KeySpec describes a managed key to create on the token with
// [Admin.Create].
type KeySpec struct {
	// Label is the key's CKA_LABEL (and that of its public half).
	// Required: managed keys are found by it.
	Label string
	// ID is the key's CKA_ID (and that of its public half), which links
	// the two halves of a pair. Required, at least one byte.
	ID []byte
	// Algorithm is the algorithm of docs/semantics.md#algorithms that the key is for
	// (ES256, EdDSA, RS256, A256GCM, HS256, ECDH-P256, …). HKDF keys
	// cannot be managed, nor X25519 keys on a token.
	Algorithm string
	// Material is the key to import, or nil to generate the key inside
	// the token: PKCS#8 DER for a signature or key-agreement algorithm
	// (the rules of package keyimport), the raw key for AES-GCM (exactly
	// the algorithm's size) and HMAC (at least the hash's length).
	// Create does not keep or change it; the caller zeroes it.
	Material []byte
}

// TokenKey is a key on the token, as [Admin.List], [Admin.Find] and
// [Admin.Create] describe it.
type TokenKey struct {
	// Label and ID are the key's CKA_LABEL and CKA_ID.
	Label string
	ID    []byte
	// Class is "private", "secret", or "public" for a public key with no
	// private half on the token.
	Class string
	// Type is the key type and size: "EC P-256", "Ed25519", "RSA 2048",
	// "AES 256", "generic secret 32 bytes", ….
	Type string
	// Algorithms are the algorithms of docs/semantics.md#algorithms that a managed key of
	// this object may name: those its type, size and usage flags
	// (CKA_SIGN, CKA_DERIVE, CKA_ENCRYPT) allow and that the token can
	// run (a P-256 key that may derive offers ECDH-P256 only on a token
	// with CKM_ECDH1_DERIVE). Empty for a public key alone.
	Algorithms []string
	// The object's attributes. A managed key should be a token object,
	// private, sensitive and not extractable; generated on the token, it
	// is also always sensitive and never extractable.
	Token, Private, Sensitive, Extractable bool
	AlwaysSensitive, NeverExtractable      bool
	// Grants name what the object allows beyond being used as a key of
	// its type: the usage attributes of its class that are true
	// (CKA_SIGN, CKA_WRAP, …), and CKA_MODIFIABLE and CKA_COPYABLE when
	// true. PublicGrants are the same of the public half, when it is on
	// the token. [Admin.Excess] says which of them an algorithm does not
	// need.
	Grants, PublicGrants []string
	// HasPublic reports whether the public half is on the token as an
	// object of its own (key pairs only).
	HasPublic bool
	// PublicKey is the SubjectPublicKeyInfo DER of an asymmetric key, nil
	// for a secret key or when the token holds no public half to read.
	PublicKey []byte

	// obj is the private, secret or public key object; pub the public
	// half of a pair, or 0. They are valid in the Admin that returned the
	// key.
	obj, pub uint
	keyType  uint
}

// Compliant reports what keeps k from being a managed key as docs/semantics.md#where-keys-live
// wants token keys: one line per attribute that is wrong, empty when none
// is. loggedIn says whether the token is used with a login, which makes
// CKA_PRIVATE required.
func (k TokenKey) Compliant(loggedIn bool) []string {
	var bad []string
	if !k.Token {
		bad = append(bad, "CKA_TOKEN is false: a session object, gone when its session closes")
	}
	if k.Class == "public" {
		return append(bad, "only a public key: the private half is not on the token")
	}
	if !k.Sensitive {
		bad = append(bad, "CKA_SENSITIVE is false: the key's value can be read off the token")
	}
	if k.Extractable {
		bad = append(bad, "CKA_EXTRACTABLE is true: the key can be wrapped and taken off the token")
	}
	if loggedIn && !k.Private {
		bad = append(bad, "CKA_PRIVATE is false: the key is usable without a login")
	}
	return bad
}
