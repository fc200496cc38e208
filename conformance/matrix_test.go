//go:build cgo

package conformance_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/conformance/suite"
	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/internal/softhsmtest"
	"github.com/wasihsm/wasihsm/internal/testguest"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/softfallback"
)

var resultsFile = flag.String("results", "", "run TestMatrix and write the matrix to this Markdown file (make conformance)")

// TestMatrix runs the whole conformance suite (conformance/suite, with
// the embedded guest) against the backends of CI — software, SoftHSM2
// (directly under fallback allow and deny, and through p11-kit), and each
// token of internal/tokentest under fallback allow and deny, each token in
// a process of its own (tokenColumns) — and prints the matrix; with
// -results FILE it also writes it there. Any failed cell or
// scenario fails the test. `make conformance` runs it; `make test` does
// not (the per-target tests above cover the same ground there).
func TestMatrix(t *testing.T) {
	if *resultsFile == "" {
		t.Skip("run by make conformance (go test -run TestMatrix ./conformance -args -results FILE)")
	}
	fx := softhsmtest.Token(t)
	remote := fx.Remote(t)
	direct := openSlowBackend(t, fx.Module, fx.Label, fx.PIN)
	viaP11Kit := openSlowBackend(t, remote.Module, remote.Label, fx.PIN)
	in := softhsmtest.Inspect(t, fx.Module, fx.Label, fx.PIN)
	software := softfallback.New()
	targets := []suite.Target{
		{Name: "software", Primary: software, Policy: provider.FallbackAllow},
		{Name: "softhsm2 fallback allow", Primary: direct, Fallback: software, Policy: provider.FallbackAllow},
		{Name: "softhsm2 fallback deny", Primary: direct, Fallback: software, Policy: provider.FallbackDeny},
		{Name: "softhsm2 via p11-kit", Primary: viaP11Kit, Fallback: software, Policy: provider.FallbackAllow},
	}
	sessionObjects := len(in.SessionObjects())
	tokenObjects := len(in.Find(pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true)))
	var results []*suite.Result
	for _, tg := range targets {
		start := time.Now()
		res, err := suite.Run(context.Background(), tg, suite.Options{Cache: testguest.CompilationCache()})
		require.NoError(t, err, tg.Name)
		t.Logf("%s: %s", tg.Name, time.Since(start).Round(time.Millisecond))
		results = append(results, res)
		assert.Equal(t, sessionObjects, len(in.SessionObjects()), "%s: session objects back to where they were", tg.Name)
	}
	assert.Equal(t, tokenObjects, len(in.Find(pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true))), "no token object added")
	softhsmResults := len(results)
	tokenResults, versions := tokenColumns(t)
	results = append(results, tokenResults...)

	// notsup only where the token lacks the mechanism: SoftHSM2 has no
	// SHA-3 and no X25519, so with fallback deny those cells are notsup,
	// and every cell of the other columns passes.
	for i, res := range results[:softhsmResults] {
		for _, c := range res.Cells {
			if targets[i].Policy == provider.FallbackDeny {
				continue
			}
			assert.Equal(t, suite.Pass, c.Status, "%s: %s %s", res.Target, c.Algorithm, c.Operation)
		}
	}
	deny := results[2]
	for _, c := range deny.Cells {
		if c.Algorithm == "SHA3-256" || c.Algorithm == "X25519" {
			assert.Equal(t, suite.NotSup, c.Status, "SoftHSM2 has no %s", c.Algorithm)
		}
	}

	var text, md bytes.Buffer
	suite.WriteText(&text, results)
	fmt.Println(text.String())
	fmt.Fprintf(&md, "# Conformance matrix\n\n"+
		"Written by `make conformance` (conformance/matrix_test.go): the whole suite of\n"+
		"`conformance/suite` — the contract guest's scenarios and every known-answer vector\n"+
		"and probe, through the embedded wasm guest — against each backend. A cell is\n"+
		"`pass (checks, of which published vectors)`, `fail`, or `notsup` where the token\n"+
		"lacks the mechanism and the fallback policy forbids software; docs/tokens.md lists\n"+
		"what each token lacks. %s, %s/%s.\n\n",
		strings.Join(append([]string{softhsmVersion(t)}, versions...), ", "), runtime.GOOS, runtime.GOARCH)
	suite.WriteMarkdown(&md, results)
	require.NoError(t, os.WriteFile(*resultsFile, md.Bytes(), 0o644))
	require.False(t, suite.Failed(results), "a cell or scenario failed:\n%s", text.String())
}

// openSlowBackend opens the token with a deadline per call long enough
// for RSA key generation on a busy machine (the default is 5s).
func openSlowBackend(t *testing.T, module, label, pin string) *hsm.Backend {
	b, err := hsm.Open(context.Background(), hsm.Config{
		Module:      module,
		Token:       hsm.TokenSelector{Label: label},
		PIN:         func() ([]byte, error) { return []byte(pin), nil },
		CallTimeout: 2 * time.Minute,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// softhsmVersion names the SoftHSM2 the matrix ran on.
func softhsmVersion(t *testing.T) string {
	out, err := exec.Command("softhsm2-util", "--version").Output()
	if err != nil {
		t.Logf("softhsm2-util --version: %v", err)
		return "SoftHSM2"
	}
	return "SoftHSM2 " + strings.TrimSpace(string(out))
}
