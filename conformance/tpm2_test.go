//go:build cgo

package conformance_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/conformance/suite"
	"github.com/wasihsm/wasihsm/internal/testguest"
	"github.com/wasihsm/wasihsm/internal/tokentest"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/softfallback"
)

// tokenErrno matches a guest's errno that a token's refusal would give:
// the token's CKR_ATTRIBUTE_VALUE_INVALID (inval), CKR_SESSION_READ_ONLY
// (access) or a device error (io) reaching the guest.
var tokenErrno = regexp.MustCompile(`= (inval|access|io)\b`)

// TestGuestOnTPM2 runs the contract guest against tpm2-pkcs11, a token
// that lists mechanisms it will not use the way the backend makes keys
// (no session key pairs, no key import, no C_GenerateKey): probing finds
// that out before any key is placed, so under fallback allow every cell
// passes (in software where the token refuses), and under deny no cell
// fails: what the token cannot do is notsup, never the token's inval,
// access or io reaching the guest.
func TestGuestOnTPM2(t *testing.T) {
	fx := tokentest.TPM2(t)
	b := openSlowBackend(t, fx.Module, fx.Label, fx.PIN)
	software := softfallback.New()
	for _, policy := range []provider.Policy{provider.FallbackAllow, provider.FallbackDeny} {
		tg := suite.Target{Name: "tpm2-pkcs11 fallback " + policy.String(), Primary: b, Fallback: software, Policy: policy}
		start := time.Now()
		res, err := suite.Run(context.Background(), tg, suite.Options{Cache: testguest.CompilationCache()})
		require.NoError(t, err)
		t.Logf("%s: %s", tg.Name, time.Since(start).Round(time.Millisecond))
		var text strings.Builder
		suite.WriteText(&text, []*suite.Result{res})
		if policy == provider.FallbackAllow {
			assert.False(t, res.Failed(), "%s:\n%s", tg.Name, text.String())
			continue
		}
		// Under deny, every cell passes or is notsup, and whatever the
		// guest was refused, it was refused as notsup: a scenario that
		// cannot be graded notsup (its message names no algorithm)
		// shows the guest's errno in its detail.
		for _, c := range res.Cells {
			assert.NotEqual(t, suite.Fail, c.Status, "%s %s: %v", c.Algorithm, c.Operation, c.Failures)
		}
		for _, sc := range res.Scenarios {
			if sc.Status == suite.Fail {
				assert.NotRegexp(t, tokenErrno, sc.Detail, sc.Name)
				assert.Regexp(t, `= notsup`, sc.Detail, sc.Name)
			}
		}
	}
	// SHA-256 is the token's, ES256 guest keys are not.
	assert.Equal(t, provider.Native, b.Supports(provider.MustLookup("SHA-256"), provider.OpHash))
	assert.Equal(t, provider.Unsupported, b.Supports(provider.MustLookup("ES256"), provider.OpGenerate))
}
