package providertest

import (
	"crypto/ed25519"
	"crypto/x509"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/internal/vectors"
	"github.com/wasihsm/wasihsm/provider"
)

// TestHostVerifiers checks the suite's host-side verification against the
// Wycheproof verification files, so that its verdicts on the backends'
// signatures can be trusted: the P1363 ECDSA verifier, the PSS verifier
// (salt as long as the hash) and Ed25519 on the cases without a known
// private key.
func TestHostVerifiers(t *testing.T) {
	// In two halves, in parallel: P-384 verification is slow under the
	// race detector, and the backends' tests wait for this package.
	ecdsaVectors := vectors.ECDSAP1363(t)
	var halves [2][]vectors.ECDSAVector
	for i, v := range ecdsaVectors {
		halves[i%2] = append(halves[i%2], v)
	}
	for i, part := range halves {
		t.Run(fmt.Sprintf("ECDSA/%d", i+1), func(t *testing.T) {
			t.Parallel()
			checkECDSAVerifier(t, part)
		})
	}
	t.Run("RSAPSS", func(t *testing.T) {
		t.Parallel()
		c := newTally(t)
		for _, v := range vectors.RSAPSS(t) {
			pub, err := x509.ParsePKIXPublicKey(v.PublicKeyDER)
			require.NoError(t, err)
			require.Equal(t, v.Result == vectors.Valid, Verify(alg(v.Alg), pub, v.Msg, v.Sig), "host verifier on %s", v)
			c.add("rsa_pss: %s: host verifier agrees", v.Result)
		}
	})
	t.Run("Ed25519", func(t *testing.T) {
		t.Parallel()
		c := newTally(t)
		for _, v := range vectors.Ed25519(t) {
			if v.Seed != nil {
				continue
			}
			require.Equal(t, v.Result == vectors.Valid, Verify(alg("EdDSA"), ed25519.PublicKey(v.PublicKey), v.Msg, v.Sig), "host check of %s", v)
			c.add("ed25519: %s, no private key: host check agrees", v.Result)
		}
	})
	t.Run("wrong algorithm", func(t *testing.T) {
		t.Parallel()
		// A signature is never valid for an algorithm of another key type
		// or curve.
		for _, v := range ecdsaVectors {
			if v.Result != vectors.Valid || v.Alg != "ES256" {
				continue
			}
			pub, err := x509.ParsePKIXPublicKey(v.PublicKeyDER)
			require.NoError(t, err)
			for _, other := range []string{"ES384", "EdDSA", "RS256", "HS256"} {
				assert.False(t, Verify(alg(other), pub, v.Msg, v.Sig), other)
			}
			return
		}
	})
}

func checkECDSAVerifier(t *testing.T, vs []vectors.ECDSAVector) {
	c := newTally(t)
	for _, v := range vs {
		pub, err := x509.ParsePKIXPublicKey(v.PublicKeyDER)
		require.NoError(t, err)
		require.Equal(t, v.Hash, alg(v.Alg).Hash, v.String())
		require.Equal(t, v.Result == vectors.Valid, Verify(alg(v.Alg), pub, v.Msg, v.Sig), "host verifier on %s", v)
		c.add("%s: %s: host verifier agrees", v.File, v.Result)
	}
}

func TestOperations(t *testing.T) {
	for _, a := range provider.Algorithms() {
		ops := Operations(a)
		require.NotEmpty(t, ops, a.Name)
		for _, op := range provider.KeyOperations(a) {
			require.Contains(t, ops, op, a.Name)
		}
		for _, op := range ops {
			require.Contains(t, AllOperations(), op)
		}
	}
	require.Equal(t, []provider.Operation{provider.OpImport, provider.OpDerive}, Operations(alg("HKDF")))
	require.Equal(t, []provider.Operation{provider.OpHash}, Operations(alg("SHAKE128")))
}

// TestImports: the suite is backend-neutral. It must not depend on any
// backend, nor on the host (docs/design.md, "Packages and the one direction").
func TestImports(t *testing.T) {
	const module = "github.com/wasihsm/wasihsm"
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", module+"/provider/providertest").CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, d := range strings.Fields(string(out)) {
		for _, f := range []string{"softfallback", "hsm", "wasihost", "cmd"} {
			assert.False(t, d == module+"/"+f || strings.HasPrefix(d, module+"/"+f+"/"), "providertest must not depend on %s", d)
		}
	}
}
