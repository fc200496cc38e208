//go:build cgo

package hsm_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/provider"
)

// TestProbeSoftHSM2 probes every algorithm SoftHSM2 lists: it does all it
// lists, so nothing is refused, every throwaway key is gone afterwards,
// and the probe's answer is the mechanism list's.
func TestProbeSoftHSM2(t *testing.T) {
	tg := direct(t)
	b := open(t, tg)
	in := inspect(t, tg)
	before := len(in.SessionObjects())
	probes := b.Probe()
	require.NotEmpty(t, probes)
	seen := map[string]bool{}
	for _, p := range probes {
		seen[p.Algorithm.Name] = true
		require.NoError(t, p.Err, p.Algorithm.Name)
		assert.Empty(t, p.Refusals, "%s: %v", p.Algorithm.Name, p.Refusals)
		t.Logf("%-9s probed in %v", p.Algorithm.Name, p.Took.Round(time.Millisecond))
	}
	for _, name := range []string{"SHA-256", "A256GCM", "HS256", "ES256", "ES512", "EdDSA", "PS256", "ECDH-P384", "HKDF"} {
		assert.True(t, seen[name], "%s probed", name)
	}
	assert.Len(t, in.SessionObjects(), before, "probes leave no object behind")
	// A second round reads what the first found.
	start := time.Now()
	again := b.Probe()
	assert.Len(t, again, len(probes))
	assert.Less(t, time.Since(start), 50*time.Millisecond)
	assert.Equal(t, provider.Native, b.Supports(alg("ES256"), provider.OpGenerate))
}
