package softfallback

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/asn1"
	"math/big"
	"sync"

	"github.com/wasihsm/wasihsm/provider"
)

// keyBase is what every key of this backend shares: its algorithm, and the
// lock that keeps Destroy from zeroing material while an operation uses it.
type keyBase struct {
	alg provider.Algorithm

	mu        sync.RWMutex
	destroyed bool
	wipe      func() // zeroes and drops the material; called once, under mu
}

// Algorithm implements provider.Key.
func (k *keyBase) Algorithm() provider.Algorithm { return k.alg }

// Backend implements provider.Key.
func (k *keyBase) Backend() string { return BackendName }

// Destroy implements provider.Key: it zeroes the key's secret bytes (see
// the package documentation for what it cannot reach) and makes every later
// use fail.
func (k *keyBase) Destroy(context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.destroyed {
		return k.errDestroyed()
	}
	k.destroyed = true
	if k.wipe != nil {
		k.wipe()
	}
	return nil
}

// acquire takes the key for an operation that reads its material. It fails
// once the key is destroyed; on success the caller must call release.
func (k *keyBase) acquire() error {
	k.mu.RLock()
	if k.destroyed {
		k.mu.RUnlock()
		return k.errDestroyed()
	}
	return nil
}

func (k *keyBase) release() { k.mu.RUnlock() }

// alive reports an error once the key is destroyed, for operations that do
// not read the material themselves (such as absorbing data into a state).
func (k *keyBase) alive() error {
	if err := k.acquire(); err != nil {
		return err
	}
	k.release()
	return nil
}

func (k *keyBase) errDestroyed() error {
	return errorf(k.alg, provider.ErrInvalidArgument, "key destroyed")
}

// asymmetric is the base of keys with a public half (signature and
// key-agreement keys); only they implement provider.PublicKeyExporter.
type asymmetric struct {
	keyBase
	spki []byte // SubjectPublicKeyInfo DER; public, never wiped
}

// PublicKeyDER implements provider.PublicKeyExporter.
func (k *asymmetric) PublicKeyDER(context.Context) ([]byte, error) {
	if err := k.alive(); err != nil {
		return nil, err
	}
	return bytes.Clone(k.spki), nil
}

// setPublic records the SubjectPublicKeyInfo of pub.
func (k *asymmetric) setPublic(pub any) error {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return errorf(k.alg, provider.ErrInvalidArgument, "encode public key: %v", err)
	}
	k.spki = der
	return nil
}

// parsePKCS8 parses PKCS#8 DER, reporting any failure as an invalid
// argument without repeating the input.
func parsePKCS8(alg provider.Algorithm, der []byte) (any, error) {
	// x509 ignores bytes after the PKCS#8 structure; they are not DER.
	var outer asn1.RawValue
	if rest, err := asn1.Unmarshal(der, &outer); err == nil && len(rest) != 0 {
		return nil, errorf(alg, provider.ErrInvalidArgument, "import: %d bytes after the PKCS#8 structure", len(rest))
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, errorf(alg, provider.ErrInvalidArgument, "import: not a PKCS#8 private key (%v)", err)
	}
	return key, nil
}

// wipeInts zeroes the words of big integers in place. The integers are
// unusable afterwards; callers drop them.
func wipeInts(xs ...*big.Int) {
	for _, x := range xs {
		if x != nil {
			clear(x.Bits())
		}
	}
}
