package suite_test

import (
	"bytes"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/conformance/suite"
	"github.com/wasihsm/wasihsm/conformance/suite/internal/guestbuild"
)

// TestEmbeddedGuestIsFresh checks the embedded contract guest against the
// tree, on any Go version: the hash of its sources (the module's Go files
// the guest imports, and the versions of other modules it imports) must be the one its stamp records,
// so a change to the guest or the guest SDK without `make generate` fails
// here. When this Go version built the copy, the guest is also rebuilt
// and compared byte for byte (another compiler gives other bytes from the
// same sources, so only the sources can be compared then).
func TestEmbeddedGuestIsFresh(t *testing.T) {
	wasm, err := suite.Guest()
	require.NoError(t, err, "the embedded guest matches its stamp")
	stamp, err := suite.GuestStamp()
	require.NoError(t, err)

	sources, err := guestbuild.Sources(guestbuild.GoTool())
	require.NoError(t, err)
	require.Equal(t, stamp.Sources, sources,
		"the contract guest's sources changed since conformance/suite/contract.wasm.gz was built: run `make generate` and commit it")

	if stamp.GoVersion != runtime.Version() {
		t.Logf("the embedded guest was built by %s, this is %s: sources compared, bytes not", stamp.GoVersion, runtime.Version())
		return
	}
	fresh, _, err := guestbuild.Build(guestbuild.GoTool())
	require.NoError(t, err)
	if !bytes.Equal(fresh, wasm) {
		t.Fatalf("conformance/suite/contract.wasm.gz is stale (%d bytes embedded, %d built from the sources): run `make generate` and commit it", len(wasm), len(fresh))
	}
}
