//go:build cgo

package hsm

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/internal/softhsmtest"
	"github.com/wasihsm/wasihsm/internal/tokentest"
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

// TestBufferTooSmallIsRetried: on each token, a call answered
// CKR_BUFFER_TOO_SMALL is made again with the length the token asked for,
// and its answer is right: an RS256 signature given 8 bytes too few
// verifies. SoftHSM2 and openCryptoki report the length with their answer;
// NSS softokn reports 0, and says 256 to a length query.
func TestBufferTooSmallIsRetried(t *testing.T) {
	for _, tc := range tokenConfigs {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			cfg := tc.config(t)
			cfg.MaxSessions = 2
			b, err := Open(ctx, cfg)
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, b.Close()) })
			k := genKey(t, b, "RS256").(*signKey)
			t.Cleanup(func() { _ = k.Destroy(ctx) })
			digest := sha256.Sum256([]byte("message"))
			data := append(append([]byte(nil), k.prefix...), digest[:]...)

			require.NoError(t, k.acquire(provider.OpSign))
			sig, err := k.runOp(ctx, nil, opSign, k.names.sign, mechanismList(k.mech, k.params), data, k.size-8, nil, nil)
			k.release()
			require.NoError(t, err)
			require.Len(t, sig, k.size, "the signature at the length the token asked for")

			pub, err := x509.ParsePKIXPublicKey(k.spki)
			require.NoError(t, err)
			switch pub := pub.(type) {
			case *ecdsa.PublicKey:
				require.True(t, ecdsa.VerifyASN1(pub, digest[:], rawToASN1(t, sig)), "the retried call's signature verifies")
			case *rsa.PublicKey:
				require.NoError(t, rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig), "the retried call's signature verifies")
			}
			requireNoActiveSign(t, b)
		})
	}
}

// tokenConfigs are the real tokens the internal tests run on: SoftHSM2,
// and those of package tokentest that have what a test needs.
var tokenConfigs = []struct {
	name   string
	config func(t *testing.T) Config
}{
	{"softhsm2", func(t *testing.T) Config {
		fx := softhsmtest.Token(t)
		return Config{Module: fx.Module, Token: TokenSelector{Label: fx.Label}, PIN: pinFunc(fx.PIN)}
	}},
	{tokentest.NameNSS, func(t *testing.T) Config { return fixtureConfig(tokentest.NSS(t)) }},
	{tokentest.NameOpenCryptoki, func(t *testing.T) Config { return fixtureConfig(tokentest.OpenCryptoki(t)) }},
}

func pinFunc(pin string) func() ([]byte, error) {
	if pin == "" {
		return nil
	}
	return func() ([]byte, error) { return []byte(pin), nil }
}

func fixtureConfig(tok *tokentest.Token) Config {
	return Config{Module: tok.Module, InitArgs: tok.InitArgs, Token: TokenSelector{Label: tok.Label}, PIN: pinFunc(tok.PIN)}
}

// TestNoOperationLeftActive: on each token, a call that fails with its
// operation still active (CKR_BUFFER_TOO_SMALL, with a length above the
// limit the backend allows) does not give its session back to the pool;
// the next call finds a clean session. A failure that ended the operation
// (a tag that does not verify, where the token has AES-GCM) keeps its
// session.
func TestNoOperationLeftActive(t *testing.T) {
	for _, tc := range tokenConfigs {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.config(t)
			cfg.MaxSessions = 2 // a pool of one session
			b, err := Open(context.Background(), cfg)
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, b.Close()) })
			noOperationLeftActive(t, b)
		})
	}
}

func noOperationLeftActive(t *testing.T, b *Backend) {
	ctx := context.Background()
	k := genKey(t, b, "RS256").(*signKey)
	t.Cleanup(func() { _ = k.Destroy(ctx) })
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

	a256 := provider.MustLookup("A256GCM")
	if b.Supports(a256, provider.OpEncrypt) == provider.Unsupported {
		return // openCryptoki 3.8.1: no AES-GCM
	}
	// A failed authentication ends the operation (the token says so when
	// asked): the session stays in the pool.
	aead := genKey(t, b, "A256GCM").(*aeadKey)
	t.Cleanup(func() { _ = aead.Destroy(ctx) })
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
