//go:build cgo

package hsm

import (
	"context"

	"github.com/wasihsm/wasihsm/provider"
)

// macKey is an HS256, HS384 or HS512 key: a generic secret on the token,
// used with CKM_SHA256_HMAC and friends. A token HMAC cannot be copied
// (SoftHSM2 has no C_GetOperationState), so that sign can be repeated its
// states buffer the data, bounded by maxBuffered, and each Sign is one
// C_Sign over all of it.
type macKey struct {
	keyBase
	mech uint
}

var _ provider.Signer = (*macKey)(nil)

// hmacBlockSize is the block size of the hash under an HMAC.
func hmacBlockSize(hash string) int {
	if hash == "SHA-256" {
		return 64
	}
	return 128 // SHA-384, SHA-512
}

// hmacKey returns a key that gives the same HMAC as key and that the
// token accepts (RFC 2104 §2): a key longer than the hash's block is
// replaced by its hash, as HMAC itself does; a key shorter than the
// token's minimum for the mechanism (SoftHSM2: the hash length) is padded
// with zeros, which HMAC does too, up to the block size. The result is a
// new slice, for the caller to zero.
func (t *token) hmacKey(hash string, key []byte) []byte {
	block := hmacBlockSize(hash)
	var k []byte
	if len(key) > block {
		newHash, _, _, _ := hostHash(hash)
		h := newHash()
		h.Write(key)
		k = h.Sum(nil)
	} else {
		k = key
	}
	size := len(k)
	if info, ok := t.caps.mechanism(hmacMechanisms[hash]); ok && int(info.MinKeySize) > size {
		size = min(int(info.MinKeySize), block)
	}
	out := make([]byte, size)
	copy(out, k)
	if len(key) > block {
		clear(k)
	}
	return out
}

// NewSignState implements provider.Signer: the state buffers the data,
// up to maxBuffered bytes.
func (k *macKey) NewSignState(ctx context.Context, maxBuffered int) (provider.SignState, error) {
	if err := k.alive(provider.OpSign); err != nil {
		return nil, err
	}
	if maxBuffered < 0 {
		return nil, k.errorf(provider.ErrInvalidArgument, "negative buffer limit")
	}
	return &bufferState{key: k, Buffer: provider.Buffer{Max: maxBuffered, Budget: provider.BudgetFrom(ctx)}}, nil
}

func (k *macKey) signatureSize() int { return k.alg.OutputSize }

// signData computes the HMAC of data on the token, charging what it
// stages to budget (nil: nothing) until the body ends.
func (k *macKey) signData(ctx context.Context, budget *provider.Budget, dst, data []byte) ([]byte, error) {
	if err := k.acquire(provider.OpSign); err != nil {
		return nil, err
	}
	defer k.release()
	mac, err := k.runOp(ctx, budget, opSign, k.names.sign, mechanismList(k.mech, nil), data, k.alg.OutputSize, nil, nil)
	if err != nil {
		return nil, err
	}
	defer clear(mac)
	if len(mac) != k.alg.OutputSize {
		return nil, k.errorf(provider.ErrDevice, "the token made an HMAC of %d bytes, want %d", len(mac), k.alg.OutputSize)
	}
	return append(dst, mac...), nil
}
