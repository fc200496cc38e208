//go:build cgo

package hsm

import (
	"context"
	"errors"

	"github.com/wasihsm/wasihsm/provider"
)

// gcmTagBits is the only tag length of docs/semantics.md#algorithms. SoftHSM2 accepts tags
// of 0 to 16 bytes; the backend always asks for 16.
const gcmTagBits = 128

// aeadKey is an A128GCM, A192GCM or A256GCM key on the token (CKK_AES,
// used with CKM_AES_GCM).
type aeadKey struct {
	keyBase
}

var _ provider.AEADKey = (*aeadKey)(nil)

// Seal implements provider.AEADKey: one C_Encrypt into a buffer for
// ciphertext‖tag. What the call stages is charged to the budget in ctx
// until its body ends (see tokenStaging). The output is built in memory of its own and appended to
// dst at the end, so overlapping inputs and outputs are no concern; when
// dst is empty and too small, that memory is returned as it is.
func (k *aeadKey) Seal(ctx context.Context, dst, nonce, plaintext, aad []byte) ([]byte, error) {
	if err := k.acquire(provider.OpEncrypt); err != nil {
		return nil, err
	}
	defer k.release()
	if len(nonce) != k.alg.NonceSize {
		return nil, k.errorf(provider.ErrInvalidArgument, "nonce of %d bytes, want %d", len(nonce), k.alg.NonceSize)
	}
	out, err := k.runOp(ctx, provider.BudgetFrom(ctx), opEncrypt, k.names.encrypt, nil, plaintext, len(plaintext)+k.alg.TagSize, nonce, aad)
	if err != nil {
		return nil, err
	}
	if len(out) != len(plaintext)+k.alg.TagSize {
		return nil, k.errorf(provider.ErrDevice, "the token's ciphertext has %d bytes, want %d", len(out), len(plaintext)+k.alg.TagSize)
	}
	if len(dst) == 0 && cap(dst) < len(out) {
		// out is ours (module.finish made it): appending to a dst
		// without room would only copy it again.
		return out, nil
	}
	return append(dst, out...), nil
}

// tokenStaging is what a token operation of in bytes of input and out of
// output stages, charged to the guest's budget while its body runs: the
// input, which the token reads until the body returns (also after the
// caller stopped waiting), and the buffer the token answers into, which
// grows up to outputLimit when the token asks for more.
func tokenStaging(in, out int) int { return in + outputLimit(out) }

// errOpen is the one error of a failed authentication: it says nothing
// about which input was wrong.
func (k *aeadKey) errOpen() error { return k.errorf(provider.ErrAuthentication, "open") }

// Open implements provider.AEADKey: one C_Decrypt of ciphertext‖tag,
// charged as Seal is. When
// authentication fails it returns dst unchanged and an opaque
// provider.ErrAuthentication.
func (k *aeadKey) Open(ctx context.Context, dst, nonce, ciphertextAndTag, aad []byte) ([]byte, error) {
	if err := k.acquire(provider.OpDecrypt); err != nil {
		return dst, err
	}
	defer k.release()
	if len(nonce) != k.alg.NonceSize {
		return dst, k.errorf(provider.ErrInvalidArgument, "nonce of %d bytes, want %d", len(nonce), k.alg.NonceSize)
	}
	if len(ciphertextAndTag) < k.alg.TagSize {
		return dst, k.errOpen()
	}
	out, err := k.runOp(ctx, provider.BudgetFrom(ctx), opDecrypt, k.names.decrypt, nil, ciphertextAndTag, len(ciphertextAndTag)-k.alg.TagSize, nonce, aad)
	if errors.Is(err, provider.ErrAuthentication) {
		return dst, k.errOpen()
	}
	if err != nil {
		return dst, err
	}
	defer clear(out)
	if len(out) != len(ciphertextAndTag)-k.alg.TagSize {
		return dst, k.errorf(provider.ErrDevice, "the token's plaintext has %d bytes, want %d", len(out), len(ciphertextAndTag)-k.alg.TagSize)
	}
	return append(dst, out...), nil
}
