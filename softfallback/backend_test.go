package softfallback_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/provider/providertest"
	"github.com/wasihsm/wasihsm/softfallback"
)

// TestContract runs the provider contract suite against the backend.
func TestContract(t *testing.T) {
	providertest.TestBackend(t, softfallback.New(), providertest.Options{ErrorPrefix: "softfallback: "})
}

// TestSupports: the backend serves every registered algorithm, in
// software, with every operation that applies to it (the suite checks
// that nothing else is reported).
func TestSupports(t *testing.T) {
	b := softfallback.New()
	require.Equal(t, "software", b.Name())
	for _, a := range provider.Algorithms() {
		for _, op := range providertest.Operations(a) {
			assert.Equal(t, provider.Software, b.Supports(a, op), "%s %s", a, op)
		}
	}
}
