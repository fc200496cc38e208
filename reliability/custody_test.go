//go:build cgo

package reliability_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/internal/softhsmtest"
	"github.com/wasihsm/wasihsm/internal/testguest"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/wasihost"
)

// TestKeyCustody: a guest makes a key of every keyed algorithm the token
// serves, generated and imported, with fallback deny. While the guest
// holds them, a session of the test's own on the token finds each key's
// private or secret object and tries to get its value out: reading
// CKA_VALUE answers CKR_ATTRIBUTE_SENSITIVE and C_WrapKey with an AES
// wrapping key the test made answers CKR_KEY_UNEXTRACTABLE — while the
// same wrap of an extractable key of the test's own succeeds, so the
// refusal is the key's, not the mechanism's. The software backend, wrapped
// in a counter, is never reached.
func TestKeyCustody(t *testing.T) {
	b, fx := tokenBackend(t, hsm.Config{})
	in := softhsmtest.Inspect(t, fx.Module, fx.Label, fx.PIN)
	p, s := in.Ctx(), in.Session()

	// The test's wrapping key, and an extractable key to show that the
	// wrap itself works.
	aes := func(label string, extractable bool) pkcs11.ObjectHandle {
		k, err := p.GenerateKey(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)}, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false), pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, label), pkcs11.NewAttribute(pkcs11.CKA_WRAP, true),
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, extractable), pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, false),
		})
		require.NoError(t, err)
		t.Cleanup(func() { _ = p.DestroyObject(s, k) })
		return k
	}
	wrapping, control := aes("custody-wrapping", false), aes("custody-control", true)
	wrapMech := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_WRAP_PAD, nil)}
	wrapped, err := p.WrapKey(s, wrapMech, wrapping, control)
	require.NoError(t, err, "the control: an extractable key wraps")
	require.NotEmpty(t, wrapped)

	sw := newCountingSoftware()
	router, err := provider.NewRouter(provider.RouterConfig{Primary: b, Fallback: sw, Policy: provider.FallbackDeny, ManagedKeys: b})
	require.NoError(t, err)
	h := testguest.NewHarness(t, router, wasihost.Options{}, guestWasm(t))

	specs := tokenKeySpecs(t, b)
	var names []string
	for _, spec := range specs {
		names = append(names, specName(spec))
	}
	t.Logf("keys the guest makes on the token: %s", strings.Join(names, " "))
	require.GreaterOrEqual(t, len(specs), 10, "the token serves the common algorithms")
	before := in.SessionObjects()
	g := startHold(t, h, "custody", specs...)

	var secret []pkcs11.ObjectHandle
	for _, o := range newObjects(before, in.SessionObjects()) {
		if in.Attrs(o, pkcs11.CKA_CLASS)[pkcs11.CKA_CLASS][0] != pkcs11.CKO_PUBLIC_KEY {
			secret = append(secret, o)
		}
	}
	require.Len(t, secret, len(specs), "one private or secret object per key the guest holds")
	for _, o := range secret {
		name := fmt.Sprintf("object %d (%x)", o, in.Attrs(o, pkcs11.CKA_KEY_TYPE)[pkcs11.CKA_KEY_TYPE])
		for _, attr := range secretAttributes(in.Attrs(o, pkcs11.CKA_KEY_TYPE)[pkcs11.CKA_KEY_TYPE]) {
			_, err := p.GetAttributeValue(s, o, []*pkcs11.Attribute{pkcs11.NewAttribute(attr, nil)})
			assert.True(t, isCKR(err, pkcs11.CKR_ATTRIBUTE_SENSITIVE), "%s: read attribute %#x: %v, want CKR_ATTRIBUTE_SENSITIVE", name, attr, err)
		}
		_, err = p.WrapKey(s, wrapMech, wrapping, o)
		assert.True(t, isCKR(err, pkcs11.CKR_KEY_UNEXTRACTABLE), "%s: C_WrapKey: %v, want CKR_KEY_UNEXTRACTABLE", name, err)
	}

	// PKCS#11 object handles never reach a guest: the values a guest
	// sees are its handle table's indexes, the same whichever backend
	// holds the keys, and another guest trying the token's object handles
	// (and everything up to 4096) gets badf.
	objs := make([]uint32, len(secret))
	for i, o := range secret {
		objs[i] = uint32(o)
	}
	args, calls := sweepArgs(objs...)
	r := h.Run("custody-sweeper", nil, nil, args...)
	require.Zero(t, r.ExitCode, r.Stderr)
	assert.Equal(t, fmt.Sprintf("badf %d\n", calls), r.Stdout)
	g.release(t)
	assert.Equal(t, before, in.SessionObjects(), "every key the guest made is gone from the token")

	// The same keys (RSA aside: software RSA key generation under -race
	// takes long) made on the token and in software get the same handle
	// values.
	specs = slices.DeleteFunc(specs, func(s string) bool { return strings.HasPrefix(s, "RS") || strings.HasPrefix(s, "PS") })
	// Both import the same material.
	softRouter, err := provider.NewRouter(provider.RouterConfig{Primary: newCountingSoftware(), Policy: provider.FallbackDeny})
	require.NoError(t, err)
	soft := startHold(t, testguest.NewHarness(t, softRouter, wasihost.Options{}, guestWasm(t)), "custody-software", specs...)
	onToken := startHold(t, h, "custody-token", specs...)
	assert.Equal(t, soft.order, onToken.order, "the guest's handle values do not depend on the backend's object handles")
	soft.release(t)
	onToken.release(t)
	assert.Equal(t, before, in.SessionObjects(), "every key the guest made is gone from the token")

	// A mixed run on the token under deny, too.
	r = h.Run("custody-mix", nil, nil, "mix", "3")
	require.Zero(t, r.ExitCode, r.Stderr)
	assert.NoError(t, checkMix(r.Stdout, 3))

	assert.Zero(t, sw.keys.Load(), "with fallback deny no key is made in software")
	assert.Zero(t, sw.hashes.Load(), "with fallback deny no hash runs in software")
}

// secretAttributes are the attributes that hold a private or secret key's
// value, by CKA_KEY_TYPE (a CK_ULONG in host byte order).
func secretAttributes(keyType []byte) []uint {
	if len(keyType) > 0 && keyType[0] == pkcs11.CKK_RSA && allZero(keyType[1:]) {
		return []uint{pkcs11.CKA_PRIVATE_EXPONENT, pkcs11.CKA_PRIME_1, pkcs11.CKA_PRIME_2,
			pkcs11.CKA_EXPONENT_1, pkcs11.CKA_EXPONENT_2, pkcs11.CKA_COEFFICIENT}
	}
	return []uint{pkcs11.CKA_VALUE}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
