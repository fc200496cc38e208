package wasihost_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/conformance/suite"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/softfallback"
	"github.com/wasihsm/wasihsm/wasihost"
)

// The contract guest is configured for these limits (see
// conformance/guests/contract/harness_wasip1.go).
var contractOptions = wasihost.Options{MaxHandles: 64, MaxBufferedBytes: 4096}

// managedKeys is the operator's key store of the contract test: one real
// managed key for the guest named "contract", and names that make the
// provider fail with each backend error, so that every errno row of
// docs/semantics.md#errors reaches a real guest. The faults stand in for a token that
// fails, which the software backend cannot do on demand.
type managedKeys struct {
	key provider.Key
}

func (m managedKeys) OpenManagedKey(_ context.Context, name string, guest provider.Guest) (provider.Key, error) {
	faults := map[string]error{
		"fault-access":         provider.ErrAccessDenied,
		"fault-nfile":          provider.ErrNoResources,
		"fault-timedout":       provider.ErrTimeout,
		"fault-io":             provider.ErrDevice,
		"fault-notrecoverable": provider.ErrKeyLost,
		"fault-unclassified":   errors.New("a failure no table row knows"),
	}
	if err, ok := faults[name]; ok {
		return nil, fmt.Errorf("test key store: %s: %w", name, err)
	}
	if name != "managed-es256" {
		return nil, fmt.Errorf("test key store: %q: %w", name, provider.ErrNotFound)
	}
	if guest.Name != "contract" {
		return nil, fmt.Errorf("test key store: %q for %q: %w", name, guest.Name, provider.ErrAccessDenied)
	}
	return managedKey{m.key}, nil
}

// managedKey is a key the instance may use but never destroys.
type managedKey struct{ provider.Key }

func (managedKey) Destroy(context.Context) error { return nil }

func (k managedKey) NewSignState(ctx context.Context, n int) (provider.SignState, error) {
	return k.Key.(provider.Signer).NewSignState(ctx, n)
}

func (k managedKey) PublicKeyDER(ctx context.Context) ([]byte, error) {
	return k.Key.(provider.PublicKeyExporter).PublicKeyDER(ctx)
}

func newManagedKeys(t *testing.T) (managedKeys, *ecdsa.PublicKey) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	require.NoError(t, err)
	k, err := softfallback.New().GenerateKey(context.Background(), provider.KeyRequest{
		Algorithm: provider.MustLookup("ES256"), Input: der})
	require.NoError(t, err)
	t.Cleanup(func() { _ = k.Destroy(context.Background()) })
	return managedKeys{key: k}, &priv.PublicKey
}

// TestContract runs every scenario of the contract guest, each in a fresh
// instance, and checks after each that nothing outlived it.
func TestContract(t *testing.T) {
	wasm := contractGuest(t)
	keys, managedPub := newManagedKeys(t)
	h := newHarness(t, wasm, contractOptions, provider.RouterConfig{ManagedKeys: keys})

	out, stderr, code := h.run("contract", nil, nil, "-list")
	require.Zero(t, code, stderr)
	names := strings.Fields(out)
	require.GreaterOrEqual(t, len(names), 35, "the guest lists its scenarios")

	for _, name := range names {
		if name == "policy/deny-notsup" {
			continue // needs the restricted host: TestContractDenyPolicy
		}
		t.Run(name, func(t *testing.T) {
			out, stderr, code := h.run("contract", nil, nil, name)
			assert.Contains(t, out, "ok "+name+"\n", "stdout: %s\nstderr: %s", out, stderr)
			assert.Zero(t, code, "exit code; stdout: %s", out)
			for _, line := range strings.Split(out, "\n") {
				if strings.HasPrefix(line, "matrix ") {
					assert.True(t, strings.HasSuffix(line, " success"), "the software backend serves every algorithm: %s", line)
				}
				if strings.HasPrefix(line, "sig ") {
					verifySigLine(t, line)
					if name == "keys/managed-key" {
						assertSPKIIs(t, line, managedPub)
					}
				}
			}
			h.requireClean()
		})
	}
	t.Run("managed key survives its guest", func(t *testing.T) {
		_, err := keys.key.(provider.PublicKeyExporter).PublicKeyDER(context.Background())
		require.NoError(t, err, "closing the guest must not destroy a managed key")
	})
	t.Run("managed key refused to another guest", func(t *testing.T) {
		_, err := keys.OpenManagedKey(context.Background(), "managed-es256", provider.Guest{Name: "intruder"})
		require.ErrorIs(t, err, provider.ErrAccessDenied)
		out, _, code := h.run("intruder", nil, nil, "keys/managed-key")
		assert.Contains(t, out, "FAIL keys/managed-key: private_key_open(ES256) = access")
		assert.NotZero(t, code)
		h.requireClean()
	})
}

// restrictedBackend is the software backend with some algorithms taken
// away: a stand-in for a token that lacks their mechanisms.
type restrictedBackend struct {
	provider.Backend
	lacks map[string]bool
}

func (b restrictedBackend) Supports(alg provider.Algorithm, op provider.Operation) provider.Support {
	if b.lacks[alg.Name] {
		return provider.Unsupported
	}
	return provider.Native
}

func TestContractDenyPolicy(t *testing.T) {
	wasm := contractGuest(t)
	primary := restrictedBackend{Backend: softfallback.New(), lacks: map[string]bool{"SHA3-256": true, "X25519": true}}
	for _, policy := range []provider.Policy{provider.FallbackDeny, provider.FallbackPublicOnly} {
		t.Run(policy.String(), func(t *testing.T) {
			h := newHarness(t, wasm, contractOptions, provider.RouterConfig{
				Primary: primary, Fallback: softfallback.New(), Policy: policy})
			out, _, code := h.run("contract", nil, map[string]string{"WASIHSM_CONTRACT_HOST": "restricted"}, "policy/deny-notsup")
			if policy == provider.FallbackDeny {
				assert.Contains(t, out, "ok policy/deny-notsup")
				assert.Zero(t, code)
			} else {
				// public-only lets the hash run in software: the guest's
				// expectation of notsup for SHA3-256 fails, and only that.
				assert.Contains(t, out, "hash_open(SHA3-256) denied = success, want notsup")
				assert.NotContains(t, out, "generate_key(X25519) denied")
			}
			require.Equal(t, wasihost.Stats{}, h.host.Stats())
		})
	}
}

// verifySigLine checks a "sig ALG SPKI MSG SIG" line with the standard
// library (conformance/suite.VerifySignature).
func verifySigLine(t *testing.T, line string) {
	t.Helper()
	f := strings.Fields(line)
	require.Len(t, f, 5, line)
	alg, ok := provider.Lookup(f[1])
	require.True(t, ok, "unknown algorithm in %q", line)
	pub, err := x509.ParsePKIXPublicKey(mustHex(t, f[2]))
	require.NoError(t, err, alg.Name)
	assert.NoError(t, suite.VerifySignature(alg, pub, mustHex(t, f[3]), mustHex(t, f[4])))
}

func assertSPKIIs(t *testing.T, line string, want *ecdsa.PublicKey) {
	pub, err := x509.ParsePKIXPublicKey(mustHex(t, strings.Fields(line)[2]))
	require.NoError(t, err)
	assert.True(t, want.Equal(pub), "managed key's public half")
}

func mustHex(t *testing.T, s string) []byte {
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}
