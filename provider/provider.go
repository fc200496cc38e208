package provider

import (
	"context"
	"encoding/hex"
	"strings"
)

// Provider is what the wasm host needs: new hashes, new keys, and managed
// keys by name. [*Router] implements it over one or two backends.
type Provider interface {
	// NewHash starts a hash or XOF of a registered algorithm of kind
	// KindHash or KindXOF.
	NewHash(ctx context.Context, alg Algorithm) (Hash, error)
	// GenerateKey creates a key as described by req: generated when
	// req.Input is nil, imported from req.Input otherwise.
	GenerateKey(ctx context.Context, req KeyRequest) (Key, error)
	// OpenManagedKey opens a key that the operator provisioned under name,
	// if guest may use it. Closing it must not delete it. ErrNotFound when
	// there is no such key, ErrAccessDenied when guest may not use it.
	OpenManagedKey(ctx context.Context, name string, guest Guest) (Key, error)
}

// Guest identifies the guest module that asks for a managed key. It is
// what the embedder says the guest is, never what the guest says of
// itself: a wasm module's name section is the guest's to write. The zero
// Guest is an anonymous guest, the identity of every module that was not
// instantiated with one (see Anonymous).
type Guest struct {
	// Name is the guest's name as the embedder chose it: for `wasihsm
	// run`, the base name of the wasm file the operator gave. Empty when
	// the embedder names the guest by SHA256 only.
	Name string
	// SHA256 is the hex SHA-256 of the guest's wasm binary, when known.
	SHA256 string
}

// Anonymous reports whether g names no guest: neither Name nor SHA256 is
// set. An anonymous guest opens no managed key; the host refuses it
// before asking the ManagedKeys, and a ManagedKeys implementation must
// grant it nothing either.
func (g Guest) Anonymous() bool { return g.Name == "" && g.SHA256 == "" }

// GuestRule names the guests that may open a managed key: by the name the
// embedder gave them or by the SHA-256 of their wasm binary. Exactly one
// field is set.
type GuestRule struct {
	// Module is the guest's name, [Guest.Name].
	Module string
	// SHA256 is the hex SHA-256 of the guest's wasm binary (case does not
	// matter); [IsSHA256Hex] says whether it is one.
	SHA256 string
}

// Matches reports whether r names guest. An empty name or hash, in r or in
// guest, matches nothing.
func (r GuestRule) Matches(guest Guest) bool {
	switch {
	case r.Module != "":
		return guest.Name == r.Module
	case r.SHA256 != "":
		return guest.SHA256 != "" && strings.EqualFold(guest.SHA256, r.SHA256)
	}
	return false
}

// IsSHA256Hex reports whether s is a SHA-256 in hex: 64 hex digits, of
// either case.
func IsSHA256Hex(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == 32
}

// Backend is one place where cryptography runs: the pure-Go software
// backend, or a PKCS#11 token.
type Backend interface {
	// Name identifies the backend in logs and tables ("software", "pkcs11").
	Name() string
	// Supports reports how the backend serves op for alg.
	Supports(alg Algorithm, op Operation) Support
	// NewHash starts a hash or XOF.
	NewHash(ctx context.Context, alg Algorithm) (Hash, error)
	// GenerateKey generates or imports a key (see KeyRequest).
	GenerateKey(ctx context.Context, req KeyRequest) (Key, error)
}

// KeyRequest describes a key to generate or import (generate_key_prepare and
// its setters).
type KeyRequest struct {
	// Algorithm is the key's algorithm.
	Algorithm Algorithm
	// Input is the import material (raw key, PKCS#8 DER or HKDF IKM), or nil
	// to generate. The backend must not keep a reference to it.
	Input []byte
	// Nonce is the HKDF-Extract salt; nil means none.
	Nonce []byte
	// Hash is the HKDF hash; the zero Algorithm when not set.
	Hash Algorithm
}

// Imported reports whether the request imports key material.
func (r KeyRequest) Imported() bool { return r.Input != nil }

// Hash is an open hash or XOF state.
type Hash interface {
	// Algorithm returns the hash algorithm.
	Algorithm() Algorithm
	// Update absorbs p. It must not keep a reference to p.
	Update(p []byte) error
	// Digest writes the first len(out) bytes of the digest of everything
	// absorbed so far into out, without disturbing the state. The caller has
	// checked that 1 ≤ len(out) ≤ OutputSize (any length for an XOF).
	Digest(out []byte) error
	// Close releases the state.
	Close() error
}

// Key is a key held by a backend. The operations it supports are the
// interfaces below; a key of a signature algorithm implements Signer, and so
// on. Keys must be safe for use by one goroutine at a time per state.
type Key interface {
	// Algorithm returns the key's algorithm.
	Algorithm() Algorithm
	// Backend returns the name of the backend that holds the key.
	Backend() string
	// Destroy releases the key: the backend zeroes secret bytes it holds,
	// or destroys the object on the token. Managed keys are only released,
	// never deleted. Destroy is called once.
	Destroy(ctx context.Context) error
}

// Signer is a key that makes signatures or MACs (KindSignature, KindMAC).
type Signer interface {
	Key
	// NewSignState starts a signature over data to come. maxBuffered bounds
	// the bytes the state may hold in memory (algorithms that cannot hash
	// incrementally, such as Ed25519, buffer the message); beyond it, Update
	// returns ErrMessageTooLarge.
	NewSignState(ctx context.Context, maxBuffered int) (SignState, error)
}

// SignState is an open signature: data is absorbed with Update and the
// signature over all of it can be taken any number of times.
type SignState interface {
	// Update absorbs p. It must not keep a reference to p.
	Update(ctx context.Context, p []byte) error
	// Sign appends the signature over all data absorbed since the start or
	// the last Reset to dst, without disturbing the state.
	Sign(ctx context.Context, dst []byte) ([]byte, error)
	// Size is the length of the signature Sign appends.
	Size() int
	// Reset drops all absorbed data.
	Reset()
	// Close releases the state.
	Close() error
}

// AEADKey is an authenticated-encryption key (KindAEAD).
type AEADKey interface {
	Key
	// Seal encrypts and authenticates plaintext and aad under nonce and
	// appends ciphertext‖tag to dst. The caller has checked the nonce size.
	// plaintext and dst may overlap only exactly (as in cipher.AEAD).
	Seal(ctx context.Context, dst, nonce, plaintext, aad []byte) ([]byte, error)
	// Open authenticates and decrypts ciphertextAndTag and appends the
	// plaintext to dst; ErrAuthentication (and nothing appended) when the
	// tag does not match.
	Open(ctx context.Context, dst, nonce, ciphertextAndTag, aad []byte) ([]byte, error)
}

// HKDFKey is an HKDF pseudorandom key made by HKDF-Extract (KindKDF).
type HKDFKey interface {
	Key
	// Hash returns the hash the key was extracted with.
	Hash() Algorithm
	// Expand writes HKDF-Expand(prk, info, len(out)) into out. The caller
	// has checked 1 ≤ len(out) ≤ 255·hash length.
	Expand(ctx context.Context, info, out []byte) error
}

// KeyAgreementKey is an ECDH or X25519 private key (KindKeyAgreement).
type KeyAgreementKey interface {
	Key
	// SharedSecret returns the shared secret with the peer's public key
	// (SEC1 uncompressed point, or 32 bytes for X25519); ErrInvalidArgument
	// when the peer key is malformed or not on the curve.
	SharedSecret(ctx context.Context, peerPublic []byte) ([]byte, error)
}

// PublicKeyExporter is a key with a public half (signature and
// key-agreement keys).
type PublicKeyExporter interface {
	Key
	// PublicKeyDER returns the public key as SubjectPublicKeyInfo DER.
	PublicKeyDER(ctx context.Context) ([]byte, error)
}
