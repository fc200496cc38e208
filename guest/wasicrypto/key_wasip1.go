//go:build wasip1

package wasicrypto

import (
	"strconv"

	"github.com/wasihsm/wasihsm/guest/wasicrypto/internal/abi"
)

// A Key is a handle to a key that lives on the host: in its token or in its
// software backend. The guest never sees secret key bytes. Its methods
// other than Close may be called from several goroutines at once. Close it
// when done.
type Key struct {
	handle uint32
	alg    string
}

// GenerateKey makes a new key for algorithm alg, such as "ES256",
// "A256GCM" or "HS256". The key exists until it is closed or the guest
// instance ends.
func GenerateKey(alg string) (*Key, error) {
	return newKey(alg, keyParams{})
}

// ImportKey makes a key for algorithm alg from material: the raw key for
// A*GCM and HS* (an HMAC key at least as long as the hash), PKCS#8 DER for
// the asymmetric algorithms. The host keeps the key as it keeps generated
// ones.
func ImportKey(alg string, material []byte) (*Key, error) {
	return newKey(alg, keyParams{input: material, hasInput: true})
}

// NewHKDFKey runs HKDF-Extract (RFC 5869) with the hash hash ("SHA-256",
// "SHA-384" or "SHA-512") over the input keying material ikm and the
// optional salt, and returns the pseudorandom key as a Key for
// [HKDFExpand]. An empty salt is the same as none.
func NewHKDFKey(hash string, ikm, salt []byte) (*Key, error) {
	return newKey("HKDF", keyParams{input: ikm, hasInput: true, hash: hash, nonce: salt})
}

type keyParams struct {
	input    []byte
	hasInput bool
	hash     string // "" for none
	nonce    []byte // nil or empty for none
}

// newKey runs generate_key_prepare, the setters p asks for, and
// generate_key. A failure after prepare leaves the state open: the API has
// no call to close it (docs/semantics.md#handles).
func newKey(alg string, p keyParams) (*Key, error) {
	var state uint32
	if err := check("generate_key_prepare", abi.GenerateKeyPrepare(stringPtr(alg), size(alg), &state)); err != nil {
		return nil, err
	}
	if p.hash != "" {
		var hashState uint32
		if err := check("hash_open", abi.HashOpen(stringPtr(p.hash), size(p.hash), &hashState)); err != nil {
			return nil, err
		}
		// The hash state only names the algorithm and stays ours: close it
		// whatever happens.
		err := check("generate_key_set_hash", abi.GenerateKeySetHash(state, hashState))
		abi.HashClose(hashState)
		if err != nil {
			return nil, err
		}
	}
	if p.hasInput {
		if err := check("generate_key_set_input", abi.GenerateKeySetInput(state, bytesPtr(p.input), size(p.input))); err != nil {
			return nil, err
		}
	}
	if len(p.nonce) > 0 {
		if err := check("generate_key_set_nonce", abi.GenerateKeySetNonce(state, bytesPtr(p.nonce), size(p.nonce))); err != nil {
			return nil, err
		}
	}
	var handle uint32
	if err := check("generate_key", abi.GenerateKey(state, &handle)); err != nil {
		return nil, err
	}
	return &Key{handle: handle, alg: alg}, nil
}

// OpenManagedKey opens a key that the operator provisioned on the token and
// named in the host's configuration. It fails with noent
// ([fs.ErrNotExist]) when there is no such key and with access
// ([fs.ErrPermission]) when the policy does not give it to this guest.
// Closing the Key closes only the handle; the key stays on the token.
func OpenManagedKey(name string) (*Key, error) {
	var handle uint32
	if err := check("private_key_open", abi.PrivateKeyOpen(stringPtr(name), size(name), &handle)); err != nil {
		return nil, err
	}
	return &Key{handle: handle}, nil
}

// Algorithm returns the algorithm the key was generated or imported for
// ("HKDF" for [NewHKDFKey]), or "" for a managed key, whose algorithm the
// guest is told by its configuration rather than by the host.
func (k *Key) Algorithm() string {
	if k == nil {
		return ""
	}
	return k.alg
}

// Handle returns the host's private_key handle, for use with package raw.
// It is 0, never a valid handle, for a nil or closed Key.
func (k *Key) Handle() uint32 {
	if k == nil {
		return 0
	}
	return k.handle
}

// PublicKey returns the public key as DER SubjectPublicKeyInfo, ready for
// x509.ParsePKIXPublicKey or a "PUBLIC KEY" PEM block. It fails with inval
// for symmetric keys.
func (k *Key) PublicKey() ([]byte, error) {
	// 600 bytes hold the SPKI of every contract algorithm up to RSA-4096;
	// a larger key costs one more call, with the length the host asks for.
	buf := make([]byte, 600)
	for range 3 {
		var n uint32
		e := abi.PrivateKeyExportPublic(k.Handle(), bytesPtr(buf), size(buf), &n)
		switch {
		case e == 0 && int(n) <= len(buf):
			return buf[:n], nil
		case e == 0:
			return nil, &CallError{Func: "private_key_export_public", Detail: "host reported length " + strconv.Itoa(int(n)) + " beyond the buffer", Errno: ErrnoRange}
		case Errno(e) == ErrnoRange && int(n) > len(buf):
			buf = make([]byte, n)
		default:
			return nil, check("private_key_export_public", e)
		}
	}
	return nil, &CallError{Func: "private_key_export_public", Detail: "length keeps growing", Errno: ErrnoRange}
}

// Close closes the key handle. A key the guest created is destroyed; a
// managed key stays on the token. Signers and AEADs made from the key keep
// working.
func (k *Key) Close() error {
	err := check("private_key_close", abi.PrivateKeyClose(k.Handle()))
	if k != nil {
		k.handle = 0
	}
	return err
}
