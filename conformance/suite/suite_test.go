package suite_test

import (
	"bytes"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/conformance/suite"
	"github.com/wasihsm/wasihsm/conformance/suite/internal/guestbuild"
)

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
