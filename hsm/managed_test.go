//go:build cgo

package hsm_test

import (
	"crypto/ecdh"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/internal/softhsmtest"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/provider/providertest"
)

// TestManagedKeys provisions keys with pkcs11-tool, as an operator would,
// and opens them through the configuration: allowed guests get them,
// others are refused, unknown names are not found, operations outside the
// configured ones are refused when attempted, and releasing a key leaves
// it on the token.
func TestManagedKeys(t *testing.T) {
	fx := softhsmtest.Token(t)
	// Labels unique to this run: token objects outlive the test.
	tag := hex.EncodeToString(randomBytes(t, 4))
	label := func(s string) string { return "managed-" + s + "-" + tag }
	fx.PKCS11Tool(t, "--keypairgen", "--key-type", "EC:prime256v1", "--label", label("ec"), "--id", "a1"+tag)
	fx.PKCS11Tool(t, "--keypairgen", "--key-type", "EC:edwards25519", "--label", label("ed"), "--id", "a2"+tag)
	fx.PKCS11Tool(t, "--keygen", "--key-type", "AES:32", "--label", label("aes"), "--id", "a3"+tag)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	keyFile := filepath.Join(t.TempDir(), "rsa.der")
	require.NoError(t, os.WriteFile(keyFile, providertest.PKCS8(t, rsaKey), 0o600))
	fx.PKCS11Tool(t, "--write-object", keyFile, "--type", "privkey", "--label", label("rsa"), "--id", "a4"+tag)

	wasmHash := strings.Repeat("ab", 32)
	allowed := provider.Guest{Name: "allowed"}
	byHash := provider.Guest{Name: "renamed", SHA256: strings.ToUpper(wasmHash)}
	intruder := provider.Guest{Name: "intruder", SHA256: strings.Repeat("cd", 32)}
	guests := []hsm.GuestRule{{Module: "allowed"}, {SHA256: wasmHash}}
	managed := []hsm.ManagedKey{
		{Name: "signer", Label: label("ec"), ID: mustHex(t, "a1"+tag), Algorithm: provider.MustLookup("ES256"), Guests: guests, Operations: []provider.Operation{provider.OpSign, provider.OpExportPublic}},
		{Name: "agree", ID: mustHex(t, "a1"+tag), Algorithm: provider.MustLookup("ECDH-P256"), Guests: guests, Operations: []provider.Operation{provider.OpDerive}},
		{Name: "ed", Label: label("ed"), Algorithm: provider.MustLookup("EdDSA"), Guests: guests},
		{Name: "aes", Label: label("aes"), Algorithm: provider.MustLookup("A256GCM"), Guests: guests, Operations: []provider.Operation{provider.OpEncrypt}},
		{Name: "rsa", Label: label("rsa"), Algorithm: provider.MustLookup("RS256"), Guests: guests},
		{Name: "wrong curve", Label: label("ec"), Algorithm: provider.MustLookup("ES384"), Guests: guests},
		{Name: "wrong size", Label: label("aes"), Algorithm: provider.MustLookup("A128GCM"), Guests: guests},
		{Name: "wrong type", Label: label("rsa"), Algorithm: provider.MustLookup("PS256"), Guests: guests, Operations: []provider.Operation{provider.OpSign}},
		{Name: "absent", Label: label("nothing"), Algorithm: provider.MustLookup("ES256"), Guests: guests},
	}

	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			b := open(t, tg, func(c *hsm.Config) { c.ManagedKeys = managed })
			openKey := func(name string, g provider.Guest) (provider.Key, error) {
				return b.OpenManagedKey(ctx, name, g)
			}

			wrongSize := provider.ErrInvalidArgument
			if !providertest.Serves(b, alg("A128GCM"), provider.OpImport) {
				// Refused before the token is searched.
				wrongSize = provider.ErrNotSupported
			}
			for _, tc := range []struct {
				name  string
				guest provider.Guest
				want  error
			}{
				{"no such name", allowed, provider.ErrNotFound},
				{"signer", intruder, provider.ErrAccessDenied},
				{"signer", provider.Guest{}, provider.ErrAccessDenied},
				{"absent", allowed, provider.ErrNotFound},
				{"wrong curve", allowed, provider.ErrInvalidArgument},
				{"wrong size", allowed, wrongSize},
			} {
				k, err := openKey(tc.name, tc.guest)
				require.ErrorIs(t, err, tc.want, "%s for %+v", tc.name, tc.guest)
				require.Nil(t, k)
			}

			// ES256, by module name and by the hash of the binary.
			for _, g := range []provider.Guest{allowed, byHash} {
				k, err := openKey("signer", g)
				require.NoError(t, err)
				require.Equal(t, alg("ES256"), k.Algorithm())
				pub := providertest.PublicKey(t, k)
				require.True(t, providertest.Verify(alg("ES256"), pub, []byte("managed"), providertest.Sign(t, k, []byte("managed"))))
				require.NoError(t, k.Destroy(ctx), "release")
			}

			// The same EC key for ECDH: derive allowed, export refused.
			if providertest.Serves(b, alg("ECDH-P256"), provider.OpImport) {
				k, err := openKey("agree", allowed)
				require.NoError(t, err)
				peer, err := ecdh.P256().GenerateKey(rand.Reader)
				require.NoError(t, err)
				_, err = k.(provider.KeyAgreementKey).SharedSecret(ctx, peer.PublicKey().Bytes())
				require.NoError(t, err)
				_, err = k.(provider.PublicKeyExporter).PublicKeyDER(ctx)
				require.ErrorIs(t, err, provider.ErrAccessDenied)
				require.NoError(t, k.Destroy(ctx))
			} else {
				_, err := openKey("agree", allowed)
				require.ErrorIs(t, err, provider.ErrNotSupported)
			}

			if providertest.Serves(b, alg("EdDSA"), provider.OpImport) {
				k, err := openKey("ed", allowed)
				require.NoError(t, err)
				require.True(t, providertest.Verify(alg("EdDSA"), providertest.PublicKey(t, k), []byte("managed"), providertest.Sign(t, k, []byte("managed"))))
				require.NoError(t, k.Destroy(ctx))
			}

			// AES: encryption allowed, decryption refused when attempted.
			if providertest.Serves(b, alg("A256GCM"), provider.OpImport) {
				k, err := openKey("aes", allowed)
				require.NoError(t, err)
				aead := k.(provider.AEADKey)
				ct, err := aead.Seal(ctx, nil, make([]byte, 12), []byte("secret"), nil)
				require.NoError(t, err)
				_, err = aead.Open(ctx, nil, make([]byte, 12), ct, nil)
				require.ErrorIs(t, err, provider.ErrAccessDenied)
				_, isExporter := k.(provider.PublicKeyExporter)
				require.False(t, isExporter)
				require.NoError(t, k.Destroy(ctx))
			}

			// RSA written as a private key only: the public key comes from
			// the private object's attributes.
			k, err := openKey("rsa", allowed)
			require.NoError(t, err)
			require.True(t, rsaKey.PublicKey.Equal(providertest.PublicKey(t, k)))
			require.True(t, providertest.Verify(alg("RS256"), &rsaKey.PublicKey, []byte("managed"), providertest.Sign(t, k, []byte("managed"))))
			require.NoError(t, k.Destroy(ctx))
			k, err = openKey("wrong type", allowed)
			require.NoError(t, err, "an RSA key serves PS256 as well")
			require.NoError(t, k.Destroy(ctx))
		})
	}

	// Released, not destroyed: the keys are still on the token.
	list := fx.PKCS11Tool(t, "--list-objects")
	for _, l := range []string{label("ec"), label("ed"), label("aes"), label("rsa")} {
		assert.Contains(t, list, l)
	}
}

// TestManagedKeyConfig: every configuration mistake is refused at Open,
// naming the field.
func TestManagedKeyConfig(t *testing.T) {
	tg := direct(t)
	ok := hsm.ManagedKey{Name: "k", Label: "l", Algorithm: provider.MustLookup("ES256"), Guests: []hsm.GuestRule{{Module: "g"}}}
	edit := func(f func(*hsm.ManagedKey)) []hsm.ManagedKey {
		k := ok
		f(&k)
		return []hsm.ManagedKey{k}
	}
	for _, tc := range []struct {
		name  string
		keys  []hsm.ManagedKey
		field string
	}{
		{"no name", edit(func(k *hsm.ManagedKey) { k.Name = "" }), "Name"},
		{"two of a name", []hsm.ManagedKey{ok, ok}, "Name"},
		{"no label nor id", edit(func(k *hsm.ManagedKey) { k.Label = "" }), "Label, ID"},
		{"no algorithm", edit(func(k *hsm.ManagedKey) { k.Algorithm = provider.Algorithm{} }), "Algorithm"},
		{"unregistered algorithm", edit(func(k *hsm.ManagedKey) {
			k.Algorithm = provider.Algorithm{Name: "ES257", Kind: provider.KindSignature}
		}), "Algorithm"},
		{"hash algorithm", edit(func(k *hsm.ManagedKey) { k.Algorithm = provider.MustLookup("SHA-256") }), "Algorithm"},
		{"HKDF", edit(func(k *hsm.ManagedKey) { k.Algorithm = provider.MustLookup("HKDF") }), "Algorithm"},
		{"X25519", edit(func(k *hsm.ManagedKey) { k.Algorithm = provider.MustLookup("X25519") }), "Algorithm"},
		{"no guests", edit(func(k *hsm.ManagedKey) { k.Guests = nil }), "Guests"},
		{"empty rule", edit(func(k *hsm.ManagedKey) { k.Guests = []hsm.GuestRule{{}} }), "Guests[0]"},
		{"two-field rule", edit(func(k *hsm.ManagedKey) {
			k.Guests = []hsm.GuestRule{{Module: "g", SHA256: strings.Repeat("0", 64)}}
		}), "Guests[0]"},
		{"short hash", edit(func(k *hsm.ManagedKey) { k.Guests = []hsm.GuestRule{{SHA256: "abcd"}} }), "Guests[0].SHA256"},
		{"operation of another kind", edit(func(k *hsm.ManagedKey) { k.Operations = []provider.Operation{provider.OpEncrypt} }), "Operations"},
		{"unknown operation", edit(func(k *hsm.ManagedKey) { k.Operations = []provider.Operation{provider.OpSign, provider.Operation(99)} }), "Operations"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tg.config()
			cfg.ManagedKeys = tc.keys
			b, err := hsm.Open(ctx, cfg)
			require.ErrorIs(t, err, provider.ErrInvalidArgument)
			require.Nil(t, b)
			require.Contains(t, err.Error(), "ManagedKeys[")
			require.Contains(t, err.Error(), ": "+tc.field+": ")
			var mke *hsm.ManagedKeyError
			require.ErrorAs(t, err, &mke)
			assert.Equal(t, tc.field, mke.Field)
		})
	}
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}
