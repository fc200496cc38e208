//go:build cgo

package hsm_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/provider/providertest"
)

// contractMaxBuffered is the hash buffer of the backends under the
// contract suite: small enough to show the limit at little cost, large
// enough for the longest hash vector.
const contractMaxBuffered = 1 << 20

// TestContract runs the provider contract suite against the token,
// directly and through p11-kit remoting. Each run covers exactly what the
// backend's Supports reports for that target (the router sends nothing
// else): what remoting does not pass is not tested through it, and the
// suite logs what it left out.
//
// The two runs go in parallel (the remote one mostly waits for p11-kit),
// but the backends are opened one after the other: a SoftHSM2 process
// that reads the token's files while another logs in may miss the token.
func TestContract(t *testing.T) {
	type variant struct {
		name   string
		target target
		inline bool
	}
	var variants []variant
	for _, tg := range targets(t) {
		variants = append(variants, variant{tg.name, tg, false})
	}
	// Config.InlineCalls changes where every token call runs, and
	// nothing a caller can see besides.
	variants = append(variants, variant{variants[0].name + "-inline", variants[0].target, true})
	for _, v := range variants {
		b := open(t, v.target, func(c *hsm.Config) { c.MaxBuffered, c.InlineCalls = contractMaxBuffered, v.inline })
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			// HKDF is composed from the token's HMAC, never native.
			for _, op := range []provider.Operation{provider.OpImport, provider.OpDerive} {
				assert.Contains(t, []provider.Support{provider.Unsupported, provider.Composed}, b.Supports(alg("HKDF"), op), "HKDF %s", op)
			}
			providertest.TestBackend(t, b, providertest.Options{
				ErrorPrefix: "hsm: ",
				HashBuffer:  contractMaxBuffered,
				// A token HMAC cannot be copied to answer repeated signs.
				SignBuffers: []string{"HS256", "HS384", "HS512"},
				// Each signature is a round trip to the token.
				MaxSignedMessages: 16,
			})
		})
	}
}
