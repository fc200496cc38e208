//go:build cgo && linux

package hsm

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/internal/tokentest"
	"github.com/wasihsm/wasihsm/provider"
)

// nssBackend opens the NSS softokn fixture and a session of the test's
// own on it, for calls made past the backend.
func nssBackend(t *testing.T) (*Backend, pkcs11.SessionHandle) {
	t.Helper()
	b, err := Open(context.Background(), fixtureConfig(tokentest.NSS(t)))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close()) })
	s, err := b.p.OpenSession(b.slot, pkcs11.CKF_SERIAL_SESSION)
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.p.CloseSession(s) })
	return b, s
}

// importKey imports value as a key of name on b.
func importKey(t *testing.T, b *Backend, name string, value []byte) provider.Key {
	t.Helper()
	k, err := b.GenerateKey(context.Background(), provider.KeyRequest{Algorithm: provider.MustLookup(name), Input: append([]byte(nil), value...)})
	require.NoError(t, err, name)
	t.Cleanup(func() { _ = k.Destroy(context.Background()) })
	return k
}

// TestQuirkGCMShortLength: NSS softokn answers the length query of an
// AES-GCM encryption with the length of the ciphertext without its tag,
// and then CKR_BUFFER_TOO_SMALL to a call with a buffer of that length.
// The backend asks no length: it passes a buffer of the plaintext's
// length plus the tag's, and the seal is AES-GCM's.
func TestQuirkGCMShortLength(t *testing.T) {
	b, s := nssBackend(t)
	b.Probe()
	assert.Contains(t, b.Quirks(), QuirkGCMShortLength, "probing finds it")
	keyBytes, nonce, plaintext := make([]byte, 32), make([]byte, 12), []byte("sixteen bytes!!!")
	_, _ = rand.Read(keyBytes)
	_, _ = rand.Read(nonce)
	k := importKey(t, b, "A256GCM", keyBytes).(*aeadKey)

	mech := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_GCM, pkcs11.NewGCMParams(nonce, nil, 128))}
	require.NoError(t, b.p.EncryptInit(s, mech, k.obj))
	rv, n := b.mod.call(callEncrypt, s, plaintext, nil)
	require.Equal(t, uint(pkcs11.CKR_OK), rv)
	assert.Less(t, int(n), len(plaintext)+16, "the length query leaves out the tag")
	rv, _ = b.mod.call(callEncrypt, s, plaintext, make([]byte, len(plaintext)+16)[:n])
	assert.Equal(t, uint(pkcs11.CKR_BUFFER_TOO_SMALL), rv, "a buffer of the length it answered is too small")
	_, _ = b.mod.call(callEncrypt, s, plaintext, make([]byte, len(plaintext)+16)) // end the operation

	sealed, err := k.Seal(context.Background(), nil, nonce, plaintext, nil)
	require.NoError(t, err)
	block, err := aes.NewCipher(keyBytes)
	require.NoError(t, err)
	gcm, err := cipher.NewGCM(block)
	require.NoError(t, err)
	assert.Equal(t, gcm.Seal(nil, nonce, plaintext, nil), sealed, "the backend's seal is AES-GCM's")
}

// TestQuirkUnusableLength: NSS softokn answers a call with a buffer too
// small for an RS256 signature CKR_BUFFER_TOO_SMALL without the length it
// needs (it reports 0, leaves what was there, or what was on its stack),
// though PKCS#11 says it sets it. The backend then asks with a length query, and the retried
// call's signature is whole (TestBufferTooSmallIsRetried verifies it on
// every token).
func TestQuirkUnusableLength(t *testing.T) {
	b, s := nssBackend(t)
	b.Probe()
	assert.Contains(t, b.Quirks(), QuirkUnusableLength, "probing finds it")
	k := genKey(t, b, "RS256").(*signKey)
	t.Cleanup(func() { _ = k.Destroy(context.Background()) })
	digest := sha256.Sum256([]byte("message"))
	data := append(append([]byte(nil), k.prefix...), digest[:]...)

	require.NoError(t, b.p.SignInit(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS, nil)}, k.obj))
	short := make([]byte, k.size)[:k.size-8]
	rv, n := b.mod.call(callSign, s, data, short)
	require.Equal(t, uint(pkcs11.CKR_BUFFER_TOO_SMALL), rv)
	assert.NotEqual(t, k.size, int(n), "the length it reports (%d) is not the one it needs", n)
	rv, n = b.mod.call(callSign, s, data, nil)
	require.Equal(t, uint(pkcs11.CKR_OK), rv, "a length query still works: the operation is active")
	assert.Equal(t, k.size, int(n))
	_, _ = b.mod.call(callSign, s, data, make([]byte, n)) // end the operation

	_, _, err := b.mod.finish(callSign, s, data, k.size-8, k.size+64)
	require.Error(t, err, "no operation is active any more")
	require.NoError(t, b.p.SignInit(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS, nil)}, k.obj))
	sig, active, err := b.mod.finish(callSign, s, data, k.size-8, k.size+64)
	require.NoError(t, err)
	assert.False(t, active)
	assert.Len(t, sig, k.size, "finish asked the length and got the whole signature")
}

// TestQuirkTruncatedHMAC: NSS softokn answers an HMAC into a buffer
// shorter than the MAC with CKR_OK and the MAC cut to the buffer's
// length, where PKCS#11 says CKR_BUFFER_TOO_SMALL. The backend passes a
// buffer of the MAC's full length (the algorithm fixes it) and takes no
// shorter answer: its HS256 tag is HMAC-SHA256's, all 32 bytes.
func TestQuirkTruncatedHMAC(t *testing.T) {
	b, s := nssBackend(t)
	b.Probe()
	assert.Contains(t, b.Quirks(), QuirkTruncatedHMAC, "probing finds it")
	keyBytes, msg := make([]byte, 32), []byte("message")
	_, _ = rand.Read(keyBytes)
	k := importKey(t, b, "HS256", keyBytes).(*macKey)
	want := hmac.New(sha256.New, keyBytes)
	want.Write(msg)
	full := want.Sum(nil)

	require.NoError(t, b.p.SignInit(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_SHA256_HMAC, nil)}, k.obj))
	short := make([]byte, 32)[:16]
	rv, n := b.mod.call(callSign, s, msg, short)
	require.Equal(t, uint(pkcs11.CKR_OK), rv, "not CKR_BUFFER_TOO_SMALL")
	require.Equal(t, 16, int(n))
	assert.Equal(t, full[:16], short, "the MAC, cut to the buffer")

	// finish takes no answer shorter than the algorithm's output.
	require.NoError(t, b.p.SignInit(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_SHA256_HMAC, nil)}, k.obj))
	_, active, err := b.mod.finish(callSign, s, msg, 33, 33+64)
	require.ErrorIs(t, err, pkcs11.Error(pkcs11.CKR_GENERAL_ERROR), "a 32-byte answer where 33 bytes were asked")
	assert.False(t, active)

	st, err := k.NewSignState(context.Background(), 1<<10)
	require.NoError(t, err)
	require.NoError(t, st.Update(context.Background(), msg))
	tag, err := st.Sign(context.Background(), nil)
	require.NoError(t, err)
	require.NoError(t, st.Close())
	assert.Equal(t, full, tag, "the backend's tag is the whole MAC")
}

// TestLengthQuirksOnlyWhereSeen: SoftHSM2 and openCryptoki answer lengths
// as PKCS#11 says; probing them finds none of NSS softokn's length quirks.
func TestLengthQuirksOnlyWhereSeen(t *testing.T) {
	for _, tc := range tokenConfigs {
		if tc.name == tokentest.NameNSS {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			b, err := Open(context.Background(), tc.config(t))
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, b.Close()) })
			b.Probe()
			for _, q := range []string{QuirkGCMShortLength, QuirkUnusableLength, QuirkTruncatedHMAC} {
				assert.NotContains(t, b.Quirks(), q)
			}
		})
	}
}
