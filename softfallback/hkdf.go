package softfallback

import (
	"context"
	"crypto/hkdf"
	"hash"

	"github.com/wasihsm/wasihsm/provider"
)

// hkdfKey is an HKDF pseudorandom key: HKDF-Extract of the imported input
// keying material.
type hkdfKey struct {
	keyBase
	hash    provider.Algorithm
	newHash func() hash.Hash
	prk     []byte // zeroed by Destroy
}

var _ provider.HKDFKey = (*hkdfKey)(nil)

func newHKDFKey(req provider.KeyRequest) (*hkdfKey, error) {
	alg := req.Algorithm
	if req.Input == nil {
		return nil, errorf(alg, provider.ErrInvalidArgument, "input keying material required")
	}
	if req.Hash == (provider.Algorithm{}) {
		return nil, errorf(alg, provider.ErrInvalidArgument, "hash required")
	}
	newHash, _, ok := keyHash(req.Hash.Name)
	if !registered(req.Hash) || !provider.HKDFHash(req.Hash) || !ok {
		return nil, errorf(alg, provider.ErrInvalidArgument, "hash %q: want SHA-256, SHA-384 or SHA-512", req.Hash.Name)
	}
	// Extract reads the IKM and salt and keeps neither.
	prk, err := hkdf.Extract(newHash, req.Input, req.Nonce)
	if err != nil {
		return nil, errorf(alg, provider.ErrInvalidArgument, "extract: %v", err)
	}
	k := &hkdfKey{keyBase: keyBase{alg: alg}, hash: req.Hash, newHash: newHash, prk: prk}
	k.wipe = func() { clear(k.prk); k.prk = nil }
	return k, nil
}

// Hash implements provider.HKDFKey.
func (k *hkdfKey) Hash() provider.Algorithm { return k.hash }

// Expand implements provider.HKDFKey: len(out) must be 1 to 255 hash
// lengths (RFC 5869 §2.3).
func (k *hkdfKey) Expand(_ context.Context, info, out []byte) error {
	if err := k.acquire(); err != nil {
		return err
	}
	defer k.release()
	if limit := 255 * k.hash.OutputSize; len(out) < 1 || len(out) > limit {
		return errorf(k.alg, provider.ErrInvalidArgument, "output of %d bytes, want 1 to %d", len(out), limit)
	}
	okm, err := hkdf.Expand(k.newHash, k.prk, string(info), len(out))
	if err != nil {
		return errorf(k.alg, provider.ErrInvalidArgument, "expand: %v", err)
	}
	copy(out, okm)
	clear(okm)
	return nil
}
