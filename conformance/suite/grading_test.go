package suite_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/conformance/suite"
	"github.com/wasihsm/wasihsm/internal/testguest"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/softfallback"
)

// flawedBackend is the software backend with three flaws that no real
// part shows on demand: it lacks X25519, ES256 and HKDF (and says so),
// claims SHA3-256 but refuses it, and gets SHA-256 digests wrong.
type flawedBackend struct{ provider.Backend }

func (flawedBackend) Name() string { return "flawed" }

func (b flawedBackend) Supports(alg provider.Algorithm, op provider.Operation) provider.Support {
	if alg.Name == "X25519" || alg.Name == "ES256" || alg.Name == "HKDF" {
		return provider.Unsupported
	}
	return b.Backend.Supports(alg, op)
}

func (b flawedBackend) NewHash(ctx context.Context, alg provider.Algorithm) (provider.Hash, error) {
	h, err := b.Backend.NewHash(ctx, alg)
	switch {
	case err != nil:
		return nil, err
	case alg.Name == "SHA3-256":
		_ = h.Close()
		return nil, fmt.Errorf("flawed: %w", provider.ErrNotSupported)
	case alg.Name == "SHA-256":
		return wrongDigest{h}, nil
	}
	return h, nil
}

type wrongDigest struct{ provider.Hash }

func (w wrongDigest) Digest(out []byte) error {
	err := w.Hash.Digest(out)
	out[0] ^= 1
	return err
}

// TestGrading: a cell fails when an answer is wrong, and when notsup comes
// for something the backend claims; it is notsup only for what the
// backend lacks and the policy keeps out of software. Everything else
// passes: this is also the software backend's run of the whole suite in
// make test (make conformance has the plain software column).
func TestGrading(t *testing.T) {
	res, err := suite.Run(context.Background(),
		suite.Target{Name: "flawed", Primary: flawedBackend{softfallback.New()}, Policy: provider.FallbackDeny},
		suite.Options{Cache: testguest.CompilationCache()})
	require.NoError(t, err)
	assert.True(t, res.Failed())
	for _, c := range res.Cells {
		want := suite.Pass
		switch c.Algorithm {
		case "SHA-256", "SHA3-256":
			want = suite.Fail
		case "X25519", "ES256", "HKDF":
			want = suite.NotSup
		}
		assert.Equal(t, want, c.Status, "%s %s: %v", c.Algorithm, c.Operation, c.Failures)
		if want == suite.Fail {
			assert.NotEmpty(t, c.Failures, "a failed cell says why")
		}
	}
	scenarios := map[string]suite.ScenarioResult{}
	for _, s := range res.Scenarios {
		scenarios[s.Name] = s
	}
	assert.Equal(t, suite.NotSup, scenarios["derive/key-agreement"].Status, "needs X25519 only: %s", scenarios["derive/key-agreement"].Detail)
	assert.Equal(t, suite.Fail, scenarios["keys/nonce-and-hash-only-for-hkdf"].Status, "SHA3-256 is claimed: %s", scenarios["keys/nonce-and-hash-only-for-hkdf"].Detail)
	// A scenario that needs an algorithm the backend lacks is notsup,
	// never failed: the guest names the algorithm of each call that makes
	// a key or opens a hash.
	for _, s := range res.Scenarios {
		switch s.Name {
		case "keys/nonce-and-hash-only-for-hkdf", "hash/digest-rules", "matrix/every-algorithm":
			continue // SHA-256 and SHA3-256: wrong answers, not missing algorithms
		}
		assert.NotEqual(t, suite.Fail, s.Status, "%s: %s", s.Name, s.Detail)
	}
	assert.Equal(t, suite.NotSup, scenarios["handles/hash-for-set-hash-stays-open"].Status, "needs HKDF: %s", scenarios["handles/hash-for-set-hash-stays-open"].Detail)
	assert.Equal(t, suite.Pass, scenarios["memory/overlapping-encrypt"].Status)
	// The managed key is ES256, which the backend lacks: the scenario
	// needs it, so it is notsup, not failed.
	assert.Equal(t, suite.NotSup, scenarios["keys/managed-key"].Status, scenarios["keys/managed-key"].Detail)
	assert.Contains(t, scenarios["keys/managed-key"].Detail, "needs ES256")
	assert.GreaterOrEqual(t, len(res.Scenarios), 35)
	assert.Greater(t, res.VectorsPassed, 2000, "the vector files were all read")

	// The printed forms say the same.
	var text, md bytes.Buffer
	suite.WriteText(&text, []*suite.Result{res})
	suite.WriteMarkdown(&md, []*suite.Result{res})
	t.Log("\n" + text.String())
	assert.Regexp(t, `\nSHA-384 +hash +pass \(129, 129 vectors\)\n`, text.String())
	assert.Regexp(t, `\nX25519 +derive +notsup\n`, text.String())
	assert.Regexp(t, `\nSHA-256 +hash +fail\n`, text.String())
	assert.Contains(t, text.String(), "FAIL flawed: SHA-256 hash: nist/SHA256ShortMsg.rsp")
	assert.Contains(t, text.String(), "notsup on flawed: ES256, HKDF, X25519 (no backend that fallback deny permits has the mechanisms)")
	assert.Contains(t, md.String(), "| SHA3-256 | hash | fail |\n")
	assert.Contains(t, md.String(), "| A128GCM | generate | pass (1) |\n")
}

// noSHA2Backend is the software backend without SHA-256, SHA-384 and
// SHA-512 hashes (it says so), as NSS softokn's database token lists no
// digest mechanism but has HKDF.
type noSHA2Backend struct{ provider.Backend }

func (noSHA2Backend) Name() string { return "no-sha2" }

func (b noSHA2Backend) Supports(alg provider.Algorithm, op provider.Operation) provider.Support {
	if op == provider.OpHash && provider.HKDFHash(alg) {
		return provider.Unsupported
	}
	return b.Backend.Supports(alg, op)
}

// TestGradingHKDFNeedsItsHash: a guest names an HKDF key's hash with a
// hash state, so on a target that opens no SHA-2 state HKDF is notsup too,
// though the backend has HKDF itself; nothing fails.
func TestGradingHKDFNeedsItsHash(t *testing.T) {
	res, err := suite.Run(context.Background(),
		suite.Target{Name: "no-sha2", Primary: noSHA2Backend{softfallback.New()}, Policy: provider.FallbackDeny},
		suite.Options{Cache: testguest.CompilationCache()})
	require.NoError(t, err)
	for _, c := range res.Cells {
		want := suite.Pass
		switch c.Algorithm {
		case "SHA-256", "SHA-384", "SHA-512", "HKDF":
			want = suite.NotSup
		}
		assert.Equal(t, want, c.Status, "%s %s: %v", c.Algorithm, c.Operation, c.Failures)
	}
	for _, s := range res.Scenarios {
		assert.NotEqual(t, suite.Fail, s.Status, "%s: %s", s.Name, s.Detail)
	}
}
