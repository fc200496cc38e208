//go:build cgo

package hsm_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/provider/providertest"
	"github.com/wasihsm/wasihsm/softfallback"
)

// TestSupportsSoftHSM2 is the table for SoftHSM2 2.6.1 reached directly:
// every (algorithm, operation) pair, exactly. (The contract suite checks
// what holds for every backend: nothing for forged algorithms, nothing
// that does not apply.)
func TestSupportsSoftHSM2(t *testing.T) {
	b := open(t, direct(t))
	require.Equal(t, "pkcs11", b.Name())
	native, composed := provider.Native, provider.Composed
	want := map[string]map[provider.Operation]provider.Support{
		"SHA-1": {provider.OpHash: native}, "SHA-224": {provider.OpHash: native}, "SHA-256": {provider.OpHash: native},
		"SHA-384": {provider.OpHash: native}, "SHA-512": {provider.OpHash: native},
		// SoftHSM2 2.6.1 has no SHA-3; PKCS#11 has no SHAKE digest.
		"SHA3-224": {}, "SHA3-256": {}, "SHA3-384": {}, "SHA3-512": {}, "SHAKE128": {}, "SHAKE256": {},
		"HKDF":   {provider.OpImport: composed, provider.OpDerive: composed},
		"X25519": {},
	}
	keyed := func(names ...string) {
		for _, n := range names {
			m := map[provider.Operation]provider.Support{provider.OpGenerate: native, provider.OpImport: native}
			for _, op := range provider.KeyOperations(alg(n)) {
				m[op] = native
			}
			want[n] = m
		}
	}
	keyed("A128GCM", "A192GCM", "A256GCM", "HS256", "HS384", "HS512", "ES256", "ES384", "ES512", "EdDSA",
		"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ECDH-P256", "ECDH-P384")
	require.Len(t, want, len(provider.Algorithms()))
	for _, a := range provider.Algorithms() {
		for _, op := range providertest.AllOperations() {
			assert.Equal(t, want[a.Name][op], b.Supports(a, op), "%s %s", a, op)
		}
	}

	// Capabilities lists the same, for the operations that apply.
	caps := b.Capabilities()
	require.NotEmpty(t, caps)
	for _, c := range caps {
		assert.Equal(t, want[c.Algorithm.Name][c.Operation], c.Support, "%s %s", c.Algorithm, c.Operation)
		assert.NotEqual(t, provider.Software, c.Support)
	}
	t.Logf("SoftHSM2 2.6.1, directly:\n%s", capabilityTable(caps))
}

// TestSupportsRemote measures what p11-kit remoting passes. Nothing is
// assumed of it beyond this: remoting can only take away, so everything it
// reports must be reported directly too; the table is logged, and the
// contract suite tests exactly what it reports. With the router, keys of
// algorithms whose operations do not all pass land in software.
func TestSupportsRemote(t *testing.T) {
	d := open(t, direct(t))
	r := open(t, remote(t))
	for _, a := range provider.Algorithms() {
		for _, op := range providertest.AllOperations() {
			if s := r.Supports(a, op); s != provider.Unsupported {
				assert.Equal(t, d.Supports(a, op), s, "%s %s: remoting reports more than the token", a, op)
			}
		}
	}
	t.Logf("SoftHSM2 2.6.1 through p11-kit remoting:\n%s", capabilityTable(r.Capabilities()))

	router, err := provider.NewRouter(provider.RouterConfig{Primary: r, Fallback: softfallback.New()})
	require.NoError(t, err)
	for _, a := range provider.Algorithms() {
		if !a.Kind.Keyed() || a.Kind == provider.KindKDF {
			continue
		}
		be, _, err := router.Route(a, provider.OpGenerate)
		require.NoError(t, err)
		if !providertest.Serves(r, a, provider.OpGenerate) {
			t.Logf("%s: keys go to %s through remoting", a, routeOfKey(t, router, a))
		} else {
			assert.Equal(t, "pkcs11", be.Name(), a.Name)
		}
	}
}

// routeOfKey creates a key through the router and says where it landed.
func routeOfKey(t *testing.T, router *provider.Router, a provider.Algorithm) string {
	t.Helper()
	req := provider.KeyRequest{Algorithm: a}
	if a.IsRSA() {
		req.Input = providertest.RSAKey(t)
	}
	k, err := router.GenerateKey(ctx, req)
	require.NoError(t, err)
	defer destroy(t, k)
	return k.Backend()
}

// capabilityTable formats capabilities as `wasihsm slots` might.
func capabilityTable(caps []hsm.Capability) string {
	var b strings.Builder
	var last string
	for _, c := range caps {
		if c.Algorithm.Name != last {
			if last != "" {
				b.WriteByte('\n')
			}
			fmt.Fprintf(&b, "  %-10s", c.Algorithm.Name)
			last = c.Algorithm.Name
		}
		fmt.Fprintf(&b, " %s=%s", c.Operation, c.Support)
	}
	return b.String()
}
