//go:build cgo

package hsm_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/internal/softhsmtest"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/provider/providertest"
)

// openAdmin opens a logged-in Admin on the direct token and closes it when
// the test ends.
func openAdmin(t *testing.T, opts hsm.AdminOptions) *hsm.Admin {
	t.Helper()
	a, err := hsm.OpenAdmin(ctx, direct(t).config(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, a.Close()) })
	require.NoError(t, a.Login(ctx))
	return a
}

// TestAdminCreate generates a key of each kind on the token as a token
// object, reads back what docs/semantics.md#where-keys-live asks of it, and opens it through the
// backend as a managed key, which works with it: a signature verifies
// with the public key that Create reported.
func TestAdminCreate(t *testing.T) {
	a := openAdmin(t, hsm.AdminOptions{})
	tag := hex.EncodeToString(randomBytes(t, 4))
	for i, tc := range []struct {
		alg, typ string
		public   bool
	}{
		{"ES256", "EC P-256", true},
		{"ES384", "EC P-384", true},
		{"EdDSA", "Ed25519", true},
		{"PS256", "RSA 2048", true},
		{"ECDH-P256", "EC P-256", true},
		{"A256GCM", "AES 256", false},
		{"HS256", "generic secret 32 bytes", false},
	} {
		t.Run(tc.alg, func(t *testing.T) {
			label := "admin-" + tc.alg + "-" + tag
			id := []byte{0xad, byte(i), 1, 2}
			k, err := a.Create(ctx, hsm.KeySpec{Label: label, ID: id, Algorithm: tc.alg})
			require.NoError(t, err)
			t.Cleanup(func() { _, _ = a.Delete(ctx, label, nil) })
			assert.Equal(t, label, k.Label)
			assert.Equal(t, id, k.ID)
			assert.Equal(t, tc.typ, k.Type)
			assert.Contains(t, k.Algorithms, tc.alg)
			assert.True(t, k.Token && k.Private && k.Sensitive && !k.Extractable && k.AlwaysSensitive && k.NeverExtractable, "%+v", k)
			assert.Empty(t, k.Compliant(true))
			assert.Equal(t, tc.public, k.HasPublic)
			if tc.public {
				_, err := x509.ParsePKIXPublicKey(k.PublicKey)
				require.NoError(t, err)
			} else {
				assert.Nil(t, k.PublicKey)
			}
			require.NoError(t, a.Fits(ctx, k, tc.alg))

			// The token itself says so, to a session of its own.
			in := inspect(t, direct(t))
			objs := in.Find(pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true), pkcs11.NewAttribute(pkcs11.CKA_LABEL, label))
			assert.Len(t, objs, map[bool]int{true: 2, false: 1}[tc.public])

			// A guest opens it as a managed key.
			b := open(t, direct(t), func(c *hsm.Config) {
				c.ManagedKeys = []hsm.ManagedKey{{Name: "k", Label: label, ID: id, Algorithm: alg(tc.alg), Guests: []hsm.GuestRule{{Module: "g"}}}}
			})
			mk, err := b.OpenManagedKey(ctx, "k", provider.Guest{Name: "g"})
			require.NoError(t, err)
			defer destroy(t, mk)
			if a := alg(tc.alg); a.Kind == provider.KindSignature {
				pub, err := x509.ParsePKIXPublicKey(k.PublicKey)
				require.NoError(t, err)
				msg := []byte("managed by wasihsm keys")
				assert.True(t, providertest.Verify(a, pub, msg, providertest.Sign(t, mk, msg)))
			}
		})
	}
}

// TestAdminImport imports a PKCS#8 key and a raw AES key; the public key
// that the token reports is the imported one, and material that does not
// fit the algorithm is refused with nothing left on the token.
func TestAdminImport(t *testing.T) {
	a := openAdmin(t, hsm.AdminOptions{})
	tag := hex.EncodeToString(randomBytes(t, 4))
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	label := "import-ec-" + tag
	k, err := a.Create(ctx, hsm.KeySpec{Label: label, ID: []byte{0x1e, 1}, Algorithm: "ES256", Material: providertest.PKCS8(t, priv)})
	require.NoError(t, err)
	defer a.Delete(ctx, label, nil)
	pub, err := x509.ParsePKIXPublicKey(k.PublicKey)
	require.NoError(t, err)
	assert.True(t, priv.PublicKey.Equal(pub))
	assert.True(t, k.Sensitive && !k.Extractable && k.Token)
	assert.Empty(t, k.Compliant(true))

	aes := "import-aes-" + tag
	k, err = a.Create(ctx, hsm.KeySpec{Label: aes, ID: []byte{0x1e, 2}, Algorithm: "A128GCM", Material: randomBytes(t, 16)})
	require.NoError(t, err)
	defer a.Delete(ctx, aes, nil)
	assert.Equal(t, "AES 128", k.Type)

	rsaDER := providertest.RSAKey(t)
	rsaPriv, err := x509.ParsePKCS8PrivateKey(rsaDER)
	require.NoError(t, err)
	rsaLabel := "import-rsa-" + tag
	k, err = a.Create(ctx, hsm.KeySpec{Label: rsaLabel, ID: []byte{0x1e, 3}, Algorithm: "RS256", Material: rsaDER})
	require.NoError(t, err)
	defer a.Delete(ctx, rsaLabel, nil)
	assert.Equal(t, "RSA 2048", k.Type)
	assert.Contains(t, k.Algorithms, "PS512")
	rsaPub, err := x509.ParsePKIXPublicKey(k.PublicKey)
	require.NoError(t, err)
	assert.True(t, rsaPriv.(*rsa.PrivateKey).PublicKey.Equal(rsaPub))

	for _, tc := range []struct {
		name string
		spec hsm.KeySpec
		want error
	}{
		{"AES of the wrong size", hsm.KeySpec{Label: "bad-" + tag, ID: []byte{1}, Algorithm: "A256GCM", Material: randomBytes(t, 16)}, provider.ErrInvalidArgument},
		{"HMAC key too short", hsm.KeySpec{Label: "bad-" + tag, ID: []byte{1}, Algorithm: "HS256", Material: randomBytes(t, 16)}, provider.ErrInvalidArgument},
		{"not PKCS#8", hsm.KeySpec{Label: "bad-" + tag, ID: []byte{1}, Algorithm: "ES256", Material: []byte("not a key")}, provider.ErrInvalidArgument},
		{"P-256 key for ES384", hsm.KeySpec{Label: "bad-" + tag, ID: []byte{1}, Algorithm: "ES384", Material: providertest.PKCS8(t, priv)}, provider.ErrInvalidArgument},
		{"label taken", hsm.KeySpec{Label: label, ID: []byte{0x99}, Algorithm: "ES256"}, provider.ErrInvalidArgument},
		{"id taken", hsm.KeySpec{Label: "bad-" + tag, ID: []byte{0x1e, 2}, Algorithm: "A128GCM"}, provider.ErrInvalidArgument},
		{"no label", hsm.KeySpec{ID: []byte{1}, Algorithm: "ES256"}, provider.ErrInvalidArgument},
		{"no id", hsm.KeySpec{Label: "bad-" + tag, Algorithm: "ES256"}, provider.ErrInvalidArgument},
		{"HKDF", hsm.KeySpec{Label: "bad-" + tag, ID: []byte{1}, Algorithm: "HKDF"}, provider.ErrInvalidArgument},
		{"hash", hsm.KeySpec{Label: "bad-" + tag, ID: []byte{1}, Algorithm: "SHA-256"}, provider.ErrInvalidArgument},
		{"X25519", hsm.KeySpec{Label: "bad-" + tag, ID: []byte{1}, Algorithm: "X25519"}, provider.ErrNotSupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := a.Create(ctx, tc.spec)
			require.ErrorIs(t, err, tc.want)
			found, err := a.Find(ctx, "bad-"+tag, nil)
			require.NoError(t, err)
			assert.Empty(t, found, "nothing was created")
		})
	}
}

// TestAdminListFindDelete: List shows keys made elsewhere (pkcs11-tool),
// with their attributes as they are — an extractable key is reported so —
// Fits refuses a key of another type, and Delete removes both halves.
func TestAdminListFindDelete(t *testing.T) {
	fx := softhsmtest.Token(t)
	a := openAdmin(t, hsm.AdminOptions{})
	tag := hex.EncodeToString(randomBytes(t, 4))
	loose := "loose-" + tag
	fx.PKCS11Tool(t, "--keypairgen", "--key-type", "EC:prime256v1", "--usage-sign", "--extractable", "--label", loose, "--id", "70"+tag)

	all, err := a.List(ctx)
	require.NoError(t, err)
	var k hsm.TokenKey
	for _, x := range all {
		if x.Label == loose {
			k = x
		}
	}
	require.Equal(t, loose, k.Label, "List shows the key")
	assert.Equal(t, "private", k.Class)
	assert.True(t, k.HasPublic)
	assert.True(t, k.Extractable)
	assert.Contains(t, k.Compliant(true), "CKA_EXTRACTABLE is true: the key can be wrapped and taken off the token")
	require.NoError(t, a.Fits(ctx, k, "ES256"))
	require.ErrorIs(t, a.Fits(ctx, k, "ES384"), provider.ErrInvalidArgument)
	require.ErrorIs(t, a.Fits(ctx, k, "A256GCM"), provider.ErrInvalidArgument)
	require.ErrorIs(t, a.Fits(ctx, k, "ECDH-P256"), provider.ErrInvalidArgument, "no CKA_DERIVE")

	found, err := a.Find(ctx, "", mustHex(t, "70"+tag))
	require.NoError(t, err)
	require.Len(t, found, 1)
	assert.Equal(t, k.PublicKey, found[0].PublicKey)

	n, err := a.Delete(ctx, loose, nil)
	require.NoError(t, err)
	assert.Equal(t, 2, n, "the private and the public key")
	found, err = a.Find(ctx, loose, nil)
	require.NoError(t, err)
	assert.Empty(t, found)
	_, err = a.Delete(ctx, loose, nil)
	require.ErrorIs(t, err, provider.ErrNotFound)
	_, err = a.Delete(ctx, "", nil)
	require.ErrorIs(t, err, provider.ErrInvalidArgument)
}

// TestAdminOpenErrors: the steps of OpenAdmin and Login fail with the
// sentinel that says which step it was.
func TestAdminOpenErrors(t *testing.T) {
	tg := direct(t)
	missing := filepath.Join(t.TempDir(), "libnope.so")
	require.NoError(t, os.WriteFile(missing, []byte("not a library"), 0o644))
	for _, tc := range []struct {
		name string
		cfg  hsm.Config
		want error
	}{
		{"module not allowed", hsm.Config{Module: tg.module, AllowedModules: []string{"/other.so"}, Token: hsm.TokenSelector{Label: tg.label}}, provider.ErrAccessDenied},
		{"module does not load", hsm.Config{Module: missing, Token: hsm.TokenSelector{Label: tg.label}}, provider.ErrDevice},
		{"no such token", hsm.Config{Module: tg.module, Token: hsm.TokenSelector{Label: "no-such-token"}}, provider.ErrNotFound},
		{"no token selected", hsm.Config{Module: tg.module}, provider.ErrInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := hsm.OpenAdmin(ctx, tc.cfg, hsm.AdminOptions{})
			require.ErrorIs(t, err, tc.want)
		})
	}

	// Read-only: lists, but creates nothing.
	ro := openAdmin(t, hsm.AdminOptions{ReadOnly: true})
	_, err := ro.List(ctx)
	require.NoError(t, err)
	_, err = ro.Create(ctx, hsm.KeySpec{Label: "ro", ID: []byte{1}, Algorithm: "ES256"})
	require.ErrorIs(t, err, provider.ErrInvalidArgument)

	// No PIN source on a token that wants a login.
	cfg := tg.config()
	cfg.PIN = nil
	a, err := hsm.OpenAdmin(ctx, cfg, hsm.AdminOptions{})
	require.NoError(t, err)
	defer a.Close()
	assert.True(t, a.LoginRequired())
	assert.Equal(t, tg.label, a.Label())
	require.ErrorIs(t, a.Login(ctx), provider.ErrAccessDenied)
	require.NoError(t, a.Close())
	require.NoError(t, a.Close(), "Close is idempotent")
	_, err = a.List(ctx)
	require.ErrorIs(t, err, provider.ErrInvalidArgument)
}

// TestAdminRemote: through p11-kit remoting, as in the rig, Admin makes a
// key that the direct module sees as a token object, and deletes it.
func TestAdminRemote(t *testing.T) {
	tg := remote(t)
	a, err := hsm.OpenAdmin(ctx, tg.config(), hsm.AdminOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, a.Close()) })
	require.NoError(t, a.Login(ctx))
	label := "remote-" + hex.EncodeToString(randomBytes(t, 4))
	k, err := a.Create(ctx, hsm.KeySpec{Label: label, ID: []byte{0x7e, 1}, Algorithm: "ES256"})
	require.NoError(t, err)
	assert.Empty(t, k.Compliant(true))

	direct := openAdmin(t, hsm.AdminOptions{ReadOnly: true})
	found, err := direct.Find(ctx, label, nil)
	require.NoError(t, err)
	require.Len(t, found, 1)
	assert.Equal(t, k.PublicKey, found[0].PublicKey, "the same key, seen directly")

	n, err := a.Delete(ctx, label, nil)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	found, err = direct.Find(ctx, label, nil)
	require.NoError(t, err)
	assert.Empty(t, found)
}
