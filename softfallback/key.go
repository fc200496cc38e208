package softfallback

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
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

// importError wraps a keyimport refusal (which wraps
// provider.ErrInvalidArgument) with the backend and algorithm.
func importError(alg provider.Algorithm, err error) error {
	return fmt.Errorf("softfallback: %s: import: %w", alg.Name, err)
}
