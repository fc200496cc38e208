package wasihost_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/conformance/suite"
	"github.com/wasihsm/wasihsm/internal/testguest"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/softfallback"
	"github.com/wasihsm/wasihsm/wasihost"
)

// TestKnownAnswersThroughGuest runs the conformance suite
// (conformance/suite: every scenario of the contract guest, and every
// known-answer vector with the exclusion rule written next to it and the
// errno that rule demands) against the software backend, through the
// contract guest built from this tree: every cell and every scenario must
// pass. The suite holds the one copy of the vector rules; `make
// conformance` runs it against the token backends too.
func TestKnownAnswersThroughGuest(t *testing.T) {
	target := suite.Target{Name: "software", Primary: softfallback.New(), Policy: provider.FallbackAllow}
	res, err := suite.Run(context.Background(), target, suite.Options{
		Guest: contractGuest(t),
		Cache: testguest.CompilationCache(),
	})
	require.NoError(t, err)
	var table bytes.Buffer
	suite.WriteText(&table, []*suite.Result{res})
	t.Log("\n" + table.String())

	require.NotEmpty(t, res.Cells)
	for _, c := range res.Cells {
		assert.Equal(t, suite.Pass, c.Status, "%s %s: %v", c.Algorithm, c.Operation, c.Failures)
	}
	require.NotEmpty(t, res.Scenarios)
	for _, sc := range res.Scenarios {
		assert.Equal(t, suite.Pass, sc.Status, "%s: %s", sc.Name, sc.Detail)
	}
	// The vector files hold 2,796 answers the API can compute; fewer
	// passing means vectors were dropped, not that they passed.
	assert.GreaterOrEqual(t, res.VectorsPassed, 2796)
	assert.False(t, res.Failed())
}

func TestGuestImportsAllFunctions(t *testing.T) {
	// A guest that imports all 35 functions instantiates.
	hr := newHarness(t, contractGuest(t), contractOptions, provider.RouterConfig{})
	imported := map[string]bool{}
	for _, f := range hr.Compiled.ImportedFunctions() {
		mod, name, _ := f.Import()
		if mod == wasihost.ModuleName || mod == wasihost.KeysModuleName {
			imported[mod+"."+name] = true
		}
	}
	assert.Len(t, imported, 35, "the contract guest imports every function: %v", imported)
	_, _, code := hr.run("contract", nil, nil, "-list")
	assert.Zero(t, code)
}
