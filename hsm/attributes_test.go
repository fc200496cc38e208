//go:build cgo

package hsm_test

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"slices"
	"testing"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/internal/softhsmtest"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/provider/providertest"
)

// newObjects returns the handles in now that are not in before.
func newObjects(before, now []pkcs11.ObjectHandle) []pkcs11.ObjectHandle {
	var out []pkcs11.ObjectHandle
	for _, o := range now {
		if !slices.Contains(before, o) {
			out = append(out, o)
		}
	}
	return out
}

// TestKeyAttributes looks at every kind of key the backend makes through
// a session of the test's own: session objects, sensitive, never
// extractable, private, generated keys sensitive from the start; the
// secret value cannot be read; Destroy brings the object count back.
//
// It runs on SoftHSM2 directly only: through p11-kit remoting, every
// instance of the client module is a connection of its own, served by a
// p11-kit-remote process of its own, so a second instance (the test's)
// cannot see the backend's session objects.
func TestKeyAttributes(t *testing.T) {
	for _, tg := range []target{direct(t)} {
		t.Run(tg.name, func(t *testing.T) {
			b := open(t, tg)
			in := inspect(t, tg)
			baseline := in.SessionObjects()
			for _, tc := range []struct {
				name  string
				req   provider.KeyRequest
				pairs bool
			}{
				{"A256GCM generated", provider.KeyRequest{Algorithm: alg("A256GCM")}, false},
				{"A128GCM imported", provider.KeyRequest{Algorithm: alg("A128GCM"), Input: make([]byte, 16)}, false},
				{"HS384 generated", provider.KeyRequest{Algorithm: alg("HS384")}, false},
				{"HS256 imported", provider.KeyRequest{Algorithm: alg("HS256"), Input: make([]byte, 40)}, false},
				{"HKDF", provider.KeyRequest{Algorithm: alg("HKDF"), Input: []byte("ikm"), Nonce: []byte("salt"), Hash: alg("SHA-512")}, false},
				{"ES384 generated", provider.KeyRequest{Algorithm: alg("ES384")}, true},
				{"ES256 imported", provider.KeyRequest{Algorithm: alg("ES256"), Input: ecKey(t)}, true},
				{"EdDSA generated", provider.KeyRequest{Algorithm: alg("EdDSA")}, true},
				{"RS256 imported", provider.KeyRequest{Algorithm: alg("RS256"), Input: providertest.RSAKey(t)}, true},
				{"ECDH-P256 generated", provider.KeyRequest{Algorithm: alg("ECDH-P256")}, true},
			} {
				create := provider.OpGenerate
				if tc.req.Imported() {
					create = provider.OpImport
				}
				if !providertest.Serves(b, tc.req.Algorithm, create) {
					t.Logf("%s: not served by this token", tc.name)
					continue
				}
				t.Run(tc.name, func(t *testing.T) {
					k := generate(t, b, tc.req)
					objs := newObjects(baseline, in.SessionObjects())
					want := 1
					if tc.pairs {
						want = 2
					}
					require.Len(t, objs, want, "objects of one key")
					for _, o := range objs {
						a := in.Attrs(o, pkcs11.CKA_CLASS, pkcs11.CKA_TOKEN)
						require.Equal(t, []byte{0}, a[pkcs11.CKA_TOKEN], "CKA_TOKEN")
						if class := a[pkcs11.CKA_CLASS][0]; class == pkcs11.CKO_PUBLIC_KEY {
							continue
						}
						checkPrivate(t, in, o, create == provider.OpGenerate)
					}
					// Using the key adds no object: ECDH's derived secret is
					// destroyed at once, HKDF's Expand makes none.
					use(t, k)
					require.Len(t, newObjects(baseline, in.SessionObjects()), want, "objects after use")
					destroy(t, k)
					require.Equal(t, baseline, in.SessionObjects(), "object count back to the baseline")
				})
			}

			// Closing a backend destroys what it created and did not
			// destroy.
			other, err := hsm.Open(ctx, tg.config())
			require.NoError(t, err)
			for _, name := range []string{"HS256", "ES256"} {
				generate(t, other, provider.KeyRequest{Algorithm: alg(name)})
			}
			require.Len(t, newObjects(baseline, in.SessionObjects()), 3)
			require.NoError(t, other.Close())
			require.Equal(t, baseline, in.SessionObjects(), "object count after Close")
		})
	}
}

// ecKey is a fresh P-256 key as PKCS#8.
func ecKey(t *testing.T) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return providertest.PKCS8(t, k)
}

// checkPrivate checks a private or secret key object against docs/semantics.md#where-keys-live.
func checkPrivate(t *testing.T, in *softhsmtest.Inspector, o pkcs11.ObjectHandle, generated bool) {
	t.Helper()
	types := []uint{pkcs11.CKA_SENSITIVE, pkcs11.CKA_EXTRACTABLE, pkcs11.CKA_PRIVATE, pkcs11.CKA_ALWAYS_SENSITIVE, pkcs11.CKA_NEVER_EXTRACTABLE}
	a := in.Attrs(o, types...)
	assert.Equal(t, []byte{1}, a[pkcs11.CKA_SENSITIVE], "CKA_SENSITIVE")
	assert.Equal(t, []byte{0}, a[pkcs11.CKA_EXTRACTABLE], "CKA_EXTRACTABLE")
	assert.Equal(t, []byte{1}, a[pkcs11.CKA_PRIVATE], "CKA_PRIVATE")
	if generated {
		assert.Equal(t, []byte{1}, a[pkcs11.CKA_ALWAYS_SENSITIVE], "CKA_ALWAYS_SENSITIVE")
		assert.Equal(t, []byte{1}, a[pkcs11.CKA_NEVER_EXTRACTABLE], "CKA_NEVER_EXTRACTABLE")
	}
	secret := uint(pkcs11.CKA_VALUE)
	if in.Attrs(o, pkcs11.CKA_KEY_TYPE)[pkcs11.CKA_KEY_TYPE][0] == pkcs11.CKK_RSA {
		secret = pkcs11.CKA_PRIVATE_EXPONENT
	}
	_, err := in.Ctx().GetAttributeValue(in.Session(), o, []*pkcs11.Attribute{pkcs11.NewAttribute(secret, nil)})
	assert.True(t, errors.Is(err, pkcs11.Error(pkcs11.CKR_ATTRIBUTE_SENSITIVE)), "reading the secret value: %v", err)
}

// use runs the key's operation once.
func use(t *testing.T, k provider.Key) {
	t.Helper()
	switch k := k.(type) {
	case provider.AEADKey:
		_, err := k.Seal(ctx, nil, make([]byte, 12), []byte("x"), nil)
		require.NoError(t, err)
	case provider.Signer:
		providertest.Sign(t, k, []byte("x"))
	case provider.HKDFKey:
		require.NoError(t, k.Expand(ctx, []byte("info"), make([]byte, 100)))
	case provider.KeyAgreementKey:
		peer, err := ecdh.P256().GenerateKey(rand.Reader)
		require.NoError(t, err)
		_, err = k.SharedSecret(ctx, peer.PublicKey().Bytes())
		require.NoError(t, err)
	}
}
