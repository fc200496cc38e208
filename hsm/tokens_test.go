//go:build cgo

package hsm_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"math"
	"testing"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/internal/tokentest"
	"github.com/wasihsm/wasihsm/provider"
)

// TestNSSSoftokn: NSS softokn 3.87 answers the length query of an AES-GCM
// encryption without the tag, and then CKR_BUFFER_TOO_SMALL; the backend
// passes buffers of the algorithm's size, so every seal works, gives what
// AES-GCM gives, and opens again. The module starts only with its init
// args, so they reach C_Initialize. (The token is package tokentest's.)
func TestNSSSoftokn(t *testing.T) {
	cfg := tokenConfig(tokentest.NSS(t))
	noArgs := cfg
	noArgs.InitArgs = ""
	_, err := hsm.Open(ctx, noArgs)
	var te *hsm.TokenError
	require.ErrorAs(t, err, &te, "NSS softokn without its init args")
	require.Equal(t, "CKR_ARGUMENTS_BAD", te.Name)

	b, err := hsm.Open(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close()) })

	a256 := alg("A256GCM")
	keyBytes := make([]byte, 32)
	_, _ = rand.Read(keyBytes)
	k, err := b.GenerateKey(ctx, provider.KeyRequest{Algorithm: a256, Input: bytes.Clone(keyBytes)})
	require.NoError(t, err)
	defer destroy(t, k)
	block, err := aes.NewCipher(keyBytes)
	require.NoError(t, err)
	want, err := cipher.NewGCM(block)
	require.NoError(t, err)

	aead := k.(provider.AEADKey)
	for _, size := range []int{0, 1, 15, 16, 17, 1000, 65536} {
		nonce, plaintext, aad := make([]byte, 12), make([]byte, size), []byte("aad")
		_, _ = rand.Read(nonce)
		_, _ = rand.Read(plaintext)
		// More seals than the pool has sessions: an operation left active
		// on one would fail a later seal.
		for range 2 * hsm.DefaultMaxSessions {
			sealed, err := aead.Seal(ctx, nil, nonce, plaintext, aad)
			require.NoError(t, err, "seal %d bytes", size)
			require.Equal(t, want.Seal(nil, nonce, plaintext, aad), sealed, "seal %d bytes", size)
		}
		sealed := want.Seal(nil, nonce, plaintext, aad)
		opened, err := aead.Open(ctx, nil, nonce, sealed, aad)
		require.NoError(t, err, "open %d bytes", size)
		require.True(t, bytes.Equal(plaintext, opened), "open %d bytes: the plaintext", size)
		sealed[len(sealed)-1] ^= 1
		_, err = aead.Open(ctx, nil, nonce, sealed, aad)
		require.ErrorIs(t, err, provider.ErrAuthentication, "a tag that does not verify")
	}

	// The other single-part calls with outputs of a fixed size: HMACs,
	// ECDSA signatures and digests.
	for _, name := range []string{"HS256", "HS512", "ES256", "ES384"} {
		k := generate(t, b, provider.KeyRequest{Algorithm: alg(name)})
		st, err := k.(provider.Signer).NewSignState(ctx, 1<<10)
		require.NoError(t, err)
		require.NoError(t, st.Update(ctx, []byte("message")))
		sig, err := st.Sign(ctx, nil)
		require.NoError(t, err, name)
		require.Len(t, sig, alg(name).OutputSize, name)
		require.NoError(t, st.Close())
		destroy(t, k)
	}
	// NSS lists its digests on the other token of the module, which a
	// second backend opens with the same init args (sharing the module).
	crypto := cfg
	crypto.Token = hsm.TokenSelector{Label: "NSS Generic Crypto Services"}
	cb, err := hsm.Open(ctx, crypto)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, cb.Close()) })
	h, err := cb.NewHash(ctx, alg("SHA-256"))
	require.NoError(t, err)
	require.NoError(t, h.Update([]byte("abc")))
	sum := make([]byte, 32)
	require.NoError(t, h.Digest(sum))
	require.NoError(t, h.Close())
	require.Equal(t, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", hex.EncodeToString(sum))
}

// TestOpenCryptokiSessionLimit: openCryptoki's soft token reports
// ulMaxSessionCount = ULONG_MAX-1, more than an int holds. It is a token
// without a session limit: slots says so, the backend opens, and its pool
// grows past a handful of sessions.
func TestOpenCryptokiSessionLimit(t *testing.T) {
	tok := tokentest.OpenCryptoki(t)
	cfg := tokenConfig(tok)
	b, err := hsm.Open(ctx, cfg)
	require.NoError(t, err, "%s", tok.Version)
	t.Cleanup(func() { require.NoError(t, b.Close()) })

	// What the token reports, read past the backend (the module is
	// initialised in the process: no C_Initialize of our own).
	p := pkcs11.New(tok.Module)
	require.NotNil(t, p)
	slots, err := hsm.Slots(ctx, tok.Module, tok.InitArgs)
	require.NoError(t, err)
	var slot *hsm.SlotInfo
	for i := range slots {
		if slots[i].Label == tok.Label {
			slot = &slots[i]
		}
	}
	require.NotNil(t, slot, "the token's slot")
	info, err := p.GetTokenInfo(slot.ID)
	require.NoError(t, err)
	require.Greater(t, info.MaxSessionCount, uint(math.MaxInt32), "the token reports a limit larger than any int32")
	require.Equal(t, 0, slot.MaxSessions, "no limit")

	// More operations at once than a small pool would hold.
	k := generate(t, b, provider.KeyRequest{Algorithm: alg("HS256")})
	defer destroy(t, k)
	errs := make(chan error, hsm.DefaultMaxSessions)
	for range hsm.DefaultMaxSessions {
		go func() {
			st, err := k.(provider.Signer).NewSignState(ctx, 1<<10)
			if err == nil {
				defer st.Close()
				if err = st.Update(ctx, []byte("message")); err == nil {
					_, err = st.Sign(ctx, nil)
				}
			}
			errs <- err
		}()
	}
	for range hsm.DefaultMaxSessions {
		require.NoError(t, <-errs)
	}
}

// TestQuirkCopyableTokenObjects: NSS softokn answers CKR_GENERAL_ERROR to
// a token object whose template has CKA_COPYABLE; Admin.Create finds that
// from its answer and makes managed keys without it, otherwise as strict
// (not modifiable, sensitive, never extractable, nothing beyond what the
// algorithm needs).
func TestQuirkCopyableTokenObjects(t *testing.T) {
	a, err := hsm.OpenAdmin(ctx, tokenConfig(tokentest.NSS(t)), hsm.AdminOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, a.Close()) })
	for _, name := range []string{"ES256", "A256GCM"} {
		label := "quirk-copyable-" + name
		k, err := a.Create(ctx, hsm.KeySpec{Label: label, ID: []byte(label), Algorithm: name})
		require.NoError(t, err, name)
		t.Cleanup(func() { _, _ = a.Delete(ctx, label, nil) })
		assert.Contains(t, a.Quirks(), hsm.QuirkCopyableTokenObjects)
		assert.NotContains(t, a.Quirks(), hsm.QuirkPairsDecrypt)
		assert.Empty(t, a.Excess(k, name), name)
		assert.NotContains(t, k.Grants, "CKA_MODIFIABLE", name)
		assert.True(t, k.Sensitive && !k.Extractable && k.AlwaysSensitive && k.NeverExtractable, name)
	}
}
