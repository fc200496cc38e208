//go:build cgo && linux

package tokentest_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/internal/tokentest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	tokentest.Shutdown()
	os.Exit(code)
}

// TestFixtures: each token comes up, and with the module's own API a
// session logs in (where the token needs a login), lists the mechanisms,
// and generates a key pair whose signature verifies.
func TestFixtures(t *testing.T) {
	for _, fx := range tokentest.All {
		t.Run(fx.Name, func(t *testing.T) {
			start := time.Now()
			tok := fx.Token(t)
			t.Logf("%s up in %s: module %s, label %q, serial %q", tok.Version, time.Since(start).Round(time.Millisecond), tok.Module, tok.Label, tok.Serial)
			assert.Equal(t, fx.Name, tok.Name)
			assert.NotEmpty(t, tok.Version)
			assert.DirExists(t, tok.Dir)
			for _, kv := range tok.Env {
				k, v, _ := strings.Cut(kv, "=")
				assert.Equal(t, v, os.Getenv(k), "%s is set in the process", k)
			}

			p := pkcs11.New(tok.Module)
			require.NotNil(t, p, "load %s", tok.Module)
			var opts []pkcs11.InitializeOption
			if tok.InitArgs != "" {
				// NUL-terminated, and read by the module during the call only.
				args := append([]byte(tok.InitArgs), 0)
				opts = append(opts, pkcs11.InitializeWithReserved(unsafe.Pointer(&args[0])))
			}
			require.NoError(t, p.Initialize(opts...))
			t.Cleanup(func() { _ = p.Finalize() })
			slot := findSlot(t, p, tok.Label)
			ti, err := p.GetTokenInfo(slot)
			require.NoError(t, err)
			if tok.Serial != "" {
				assert.Equal(t, tok.Serial, strings.TrimSpace(ti.SerialNumber))
			}
			s, err := p.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
			require.NoError(t, err)
			t.Cleanup(func() { _ = p.CloseSession(s) })
			if ti.Flags&pkcs11.CKF_LOGIN_REQUIRED != 0 {
				require.NotEmpty(t, tok.PIN, "the token needs a login")
				require.NoError(t, p.Login(s, pkcs11.CKU_USER, tok.PIN))
			} else {
				assert.Empty(t, tok.PIN, "a token without CKF_LOGIN_REQUIRED gets no PIN")
			}
			mechs, err := p.GetMechanismList(slot)
			require.NoError(t, err)
			has := map[uint]bool{}
			for _, m := range mechs {
				has[m.Mechanism] = true
			}
			t.Logf("%d mechanisms, flags %#x", len(mechs), ti.Flags)
			// Every one of these tokens signs with RSA; the ones with EC
			// also with ECDSA P-256.
			require.True(t, has[pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN], "RSA key generation listed")
			signRSA(t, p, s, tok.Name == tokentest.NameTPM2)
			if has[pkcs11.CKM_EC_KEY_PAIR_GEN] {
				signEC(t, p, s, tok.Name == tokentest.NameTPM2)
			} else {
				assert.Equal(t, tokentest.NameOpenCryptoki, tok.Name, "only openCryptoki lacks EC")
			}
		})
	}
}

func findSlot(t *testing.T, p *pkcs11.Ctx, label string) uint {
	slots, err := p.GetSlotList(true)
	require.NoError(t, err)
	for _, s := range slots {
		if ti, err := p.GetTokenInfo(s); err == nil && strings.TrimRight(ti.Label, " \x00") == label {
			return s
		}
	}
	t.Fatalf("no token %q among %d slots", label, len(slots))
	return 0
}

// keyPair generates a key pair; tokenObject for tokens that make only
// token objects (tpm2-pkcs11), destroyed when the test ends.
func keyPair(t *testing.T, p *pkcs11.Ctx, s pkcs11.SessionHandle, mech uint, pub []*pkcs11.Attribute, tokenObject bool) (pkcs11.ObjectHandle, pkcs11.ObjectHandle) {
	label := pkcs11.NewAttribute(pkcs11.CKA_LABEL, "tokentest-"+t.Name())
	pub = append(pub, pkcs11.NewAttribute(pkcs11.CKA_TOKEN, tokenObject), pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true), label)
	priv := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, tokenObject),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
		label,
	}
	pubH, privH, err := p.GenerateKeyPair(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, nil)}, pub, priv)
	require.NoError(t, err)
	t.Cleanup(func() {
		assert.NoError(t, p.DestroyObject(s, privH))
		assert.NoError(t, p.DestroyObject(s, pubH))
	})
	return pubH, privH
}

func sign(t *testing.T, p *pkcs11.Ctx, s pkcs11.SessionHandle, mech uint, key pkcs11.ObjectHandle, msg []byte) []byte {
	require.NoError(t, p.SignInit(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, nil)}, key))
	sig, err := p.Sign(s, msg)
	require.NoError(t, err)
	return sig
}

func attr(t *testing.T, p *pkcs11.Ctx, s pkcs11.SessionHandle, o pkcs11.ObjectHandle, typ uint) []byte {
	a, err := p.GetAttributeValue(s, o, []*pkcs11.Attribute{pkcs11.NewAttribute(typ, nil)})
	require.NoError(t, err)
	return a[0].Value
}

func signRSA(t *testing.T, p *pkcs11.Ctx, s pkcs11.SessionHandle, tokenObject bool) {
	pubH, privH := keyPair(t, p, s, pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_MODULUS_BITS, 2048),
		pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, []byte{1, 0, 1}),
	}, tokenObject)
	digest := sha256.Sum256([]byte("tokentest"))
	// CKM_RSA_PKCS over a DigestInfo: every one of the tokens has it.
	prefix := []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}
	sig := sign(t, p, s, pkcs11.CKM_RSA_PKCS, privH, append(prefix, digest[:]...))
	pub := &rsa.PublicKey{
		N: new(big.Int).SetBytes(attr(t, p, s, pubH, pkcs11.CKA_MODULUS)),
		E: int(new(big.Int).SetBytes(attr(t, p, s, pubH, pkcs11.CKA_PUBLIC_EXPONENT)).Int64()),
	}
	assert.NoError(t, rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig))
}

func signEC(t *testing.T, p *pkcs11.Ctx, s pkcs11.SessionHandle, tokenObject bool) {
	p256, _ := asn1.Marshal(asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7})
	pubH, privH := keyPair(t, p, s, pkcs11.CKM_EC_KEY_PAIR_GEN, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, p256),
	}, tokenObject)
	digest := sha256.Sum256([]byte("tokentest"))
	sig := sign(t, p, s, pkcs11.CKM_ECDSA, privH, digest[:])
	require.Len(t, sig, 64)
	var point []byte
	_, err := asn1.Unmarshal(attr(t, p, s, pubH, pkcs11.CKA_EC_POINT), &point)
	require.NoError(t, err)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	require.NoError(t, err, "an uncompressed P-256 point")
	der, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])})
	require.NoError(t, err)
	assert.True(t, ecdsa.VerifyASN1(pub, digest[:], der))
}

// TestFixtureAfterShutdown: a fixture asked for again after Shutdown sets
// up a new token, in a new directory, rather than answering with the one
// Shutdown stopped (a package whose TestMain cannot call Shutdown calls it
// from each test's cleanup).
func TestFixtureAfterShutdown(t *testing.T) {
	first := tokentest.NSS(t)
	tokentest.Shutdown()
	assert.NoDirExists(t, first.Dir, "Shutdown removes the token's directory")
	second := tokentest.NSS(t)
	assert.NotEqual(t, first.Dir, second.Dir)
	assert.DirExists(t, second.Dir)
}
