package suite_test

import (
	"bytes"
	"context"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/conformance/suite"
	"github.com/wasihsm/wasihsm/conformance/suite/internal/guestbuild"
	"github.com/wasihsm/wasihsm/internal/testguest"
	"github.com/wasihsm/wasihsm/softfallback"
)

// TestSoftware holds the software backend to the whole suite, with the
// embedded guest: every cell passes (software serves every algorithm).
func TestSoftware(t *testing.T) {
	res, err := suite.Run(context.Background(), suite.Target{Name: "software", Primary: softfallback.New()},
		suite.Options{Cache: testguest.CompilationCache()})
	require.NoError(t, err)
	var out bytes.Buffer
	suite.WriteText(&out, []*suite.Result{res})
	t.Log("\n" + out.String())
	assert.False(t, res.Failed())
	assert.Len(t, res.Cells, len(suite.Rows()))
	for _, c := range res.Cells {
		assert.Equal(t, suite.Pass, c.Status, "%s %s: %v", c.Algorithm, c.Operation, c.Failures)
	}
	assert.Greater(t, res.VectorsPassed, 2000, "the vector files were all read")
	assert.GreaterOrEqual(t, len(res.Scenarios), 35)
}

// TestEmbeddedGuestIsFresh rebuilds the contract guest and compares it
// with the embedded copy, when this Go version built that copy (a
// different compiler gives different bytes from the same sources). After
// changing the guest, the guest SDK or the Go version: make generate.
func TestEmbeddedGuestIsFresh(t *testing.T) {
	wasm, err := suite.Guest()
	require.NoError(t, err, "the embedded guest matches its stamp")
	if v := suite.GuestGoVersion(); v != runtime.Version() {
		t.Skipf("the embedded guest was built by %s, this is %s: bytes cannot be compared", v, runtime.Version())
	}
	fresh, _, err := guestbuild.Build(guestbuild.GoTool())
	require.NoError(t, err)
	if !bytes.Equal(fresh, wasm) {
		t.Fatalf("conformance/suite/contract.wasm.gz is stale (%d bytes embedded, %d built from the sources): run `make generate` and commit it", len(wasm), len(fresh))
	}
}
