//go:build cgo

package hsm

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/provider"
)

// TestPKCS11Version: functionsOf reads package pkcs11's Ctx, whose layout
// is that of v1.1.2; another version must be checked before it is used.
func TestPKCS11Version(t *testing.T) {
	mod, err := os.ReadFile("../go.mod")
	require.NoError(t, err)
	for _, line := range strings.Split(string(mod), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "github.com/miekg/pkcs11" {
			require.Equal(t, "v1.1.2", f[1],
				"singlepart.go reads the Ctx of github.com/miekg/pkcs11 v1.1.2 (struct ctx { handle; sym }): check that layout in the new version, then update this test")
			return
		}
	}
	t.Fatal("go.mod does not require github.com/miekg/pkcs11")
}

// idleSessions returns the sessions idle in b's pool.
func idleSessions(b *Backend) []pkcs11.SessionHandle {
	pool := b.pool.Load()
	pool.mu.Lock()
	defer pool.mu.Unlock()
	return append([]pkcs11.SessionHandle(nil), pool.idle...)
}

// requireNoActiveSign fails when a session idle in b's pool has a signing
// operation active: a length query answers CKR_OPERATION_NOT_INITIALIZED
// only when none is.
func requireNoActiveSign(t *testing.T, b *Backend) {
	t.Helper()
	idle := idleSessions(b)
	require.NotEmpty(t, idle)
	for _, s := range idle {
		rv, _ := b.mod.call(callSign, s, []byte("probe"), nil)
		require.Equal(t, uint(pkcs11.CKR_OPERATION_NOT_INITIALIZED), rv, "session %d went back to the pool with a signing operation active", s)
	}
}

// TestBufferTooSmallIsRetried: a token that answers CKR_BUFFER_TOO_SMALL
// gets the call again with the length it asked for. SoftHSM2 asks for 64
// bytes of an ES256 signature when given 8.
func TestBufferTooSmallIsRetried(t *testing.T) {
	ctx := context.Background()
	b, _ := openInternal(t, func(c *Config) { c.MaxSessions = 2 })
	k := genKey(t, b, "ES256").(*signKey)
	digest := sha256.Sum256([]byte("message"))

	require.NoError(t, k.acquire(provider.OpSign))
	sig, err := k.runOp(ctx, nil, opSign, k.names.sign, mechanismList(k.mech, k.params), digest[:], 8, nil, nil)
	k.release()
	require.NoError(t, err)
	require.Len(t, sig, 64, "the signature at the length the token asked for")

	pub, err := x509.ParsePKIXPublicKey(k.spki)
	require.NoError(t, err)
	require.True(t, ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), digest[:], rawToASN1(t, sig)), "the retried call's signature verifies")
	requireNoActiveSign(t, b)
}

// TestNoOperationLeftActive: a call that fails with its operation still
// active (CKR_BUFFER_TOO_SMALL, with a length above the limit the
// backend allows) does not give its session back to the pool; the next
// call finds a clean session. A failure that ended the operation (a tag
// that does not verify) keeps its session.
func TestNoOperationLeftActive(t *testing.T) {
	ctx := context.Background()
	b, _ := openInternal(t, func(c *Config) { c.MaxSessions = 2 }) // a pool of one session
	k := genKey(t, b, "RS256").(*signKey)
	digest := sha256.Sum256([]byte("message"))
	data := append(append([]byte(nil), k.prefix...), digest[:]...)

	// 1 byte for a 256-byte signature, and a limit of 1+64.
	require.NoError(t, k.acquire(provider.OpSign))
	_, err := k.runOp(ctx, nil, opSign, k.names.sign, mechanismList(k.mech, k.params), data, 1, nil, nil)
	k.release()
	var te *TokenError
	require.ErrorAs(t, err, &te)
	require.Equal(t, uint(pkcs11.CKR_BUFFER_TOO_SMALL), te.Code)
	require.ErrorIs(t, err, provider.ErrDevice)
	require.Empty(t, idleSessions(b), "the session with the active operation was closed, not pooled")

	// The next signature gets a fresh session, with nothing active on it.
	st, err := k.NewSignState(ctx, 1<<10)
	require.NoError(t, err)
	require.NoError(t, st.Update(ctx, []byte("message")))
	sig, err := st.Sign(ctx, nil)
	require.NoError(t, err)
	require.Len(t, sig, 256)
	require.NoError(t, st.Close())
	requireNoActiveSign(t, b)

	// A failed authentication ends the operation (the token says so when
	// asked): the session stays in the pool.
	aead := genKey(t, b, "A256GCM").(*aeadKey)
	nonce := make([]byte, 12)
	_, _ = rand.Read(nonce)
	ct, err := aead.Seal(ctx, nil, nonce, []byte("plaintext"), nil)
	require.NoError(t, err)
	before := idleSessions(b)
	ct[0] ^= 1
	_, err = aead.Open(ctx, nil, nonce, ct, nil)
	require.True(t, errors.Is(err, provider.ErrAuthentication), "%v", err)
	require.Equal(t, before, idleSessions(b), "the session of a failed open is pooled again")
	requireNoActiveSign(t, b)
}

// rawToASN1 turns an r‖s ECDSA signature into ASN.1.
func rawToASN1(t *testing.T, sig []byte) []byte {
	t.Helper()
	n := len(sig) / 2
	var b []byte
	for _, part := range [][]byte{sig[:n], sig[n:]} {
		for len(part) > 1 && part[0] == 0 {
			part = part[1:]
		}
		if part[0]&0x80 != 0 {
			part = append([]byte{0}, part...)
		}
		b = append(append(b, 0x02, byte(len(part))), part...)
	}
	return append([]byte{0x30, byte(len(b))}, b...)
}
