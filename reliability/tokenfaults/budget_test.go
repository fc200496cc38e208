//go:build cgo && linux

package tokenfaults

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/internal/testguest"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/wasihost"
)

// hoardGuest is the hostile guest of the budget tests.
const hoardGuest = "github.com/wasihsm/wasihsm/reliability/guests/hoard"

// TestAbandonedCallKeepsItsCharge: a guest's HS256 sign of a buffered
// message on a token that hangs (SIGSTOP) answers timedout at the call
// deadline, but its body goes on in the module with the message the token
// reads and the answer it makes: those stay charged to the guest's budget
// after the guest got its answer and closed the state, and are given back
// only when the token resumes and the body ends. (p11-kit's remoting
// carries no AES-GCM parameters, so the token call is an HMAC here; every
// token operation stages through the same path, hsm's withSessionHeld.)
func TestAbandonedCallKeepsItsCharge(t *testing.T) {
	fx, r := remoteToken(t)
	b := openBackend(t, fx, r.Module, nil)
	router, err := provider.NewRouter(provider.RouterConfig{Primary: b, Policy: provider.FallbackDeny, ManagedKeys: b})
	require.NoError(t, err)
	h := testguest.NewHarness(t, router, wasihost.Options{}, testguest.Build(t, hoardGuest))

	const size = 1 << 20
	g := h.Start("hoard", "sign", fmt.Sprint(size))
	g.Expect("wait") // an HS256 key on the token, a signing state holding the message
	require.Equal(t, int64(size), h.Host.Stats().HeldBytes, "the state's buffer")

	resume := hangToken(t, r)
	g.Continue()
	start := time.Now()
	g.Expect("sign 73") // timedout
	answered := time.Since(start)
	g.Expect("wait") // the guest closed the state and the key
	// The message the token reads, and the buffer the HMAC is answered
	// into: 32 bytes, and up to 64 more for a token that asks for more.
	const staged = size + 32 + 64
	assert.Equal(t, int64(staged), h.Host.Stats().HeldBytes, "the abandoned call's staging is still charged")
	time.Sleep(callTimeout)
	assert.Equal(t, int64(staged), h.Host.Stats().HeldBytes, "and stays charged while its body is in the module")

	resume()
	resumed := time.Now()
	require.Eventually(t, func() bool { return h.Host.Stats().HeldBytes == 0 }, 10*time.Second, 10*time.Millisecond,
		"the charge is given back once the body ends")
	t.Logf("timedout after %v; %d bytes stayed charged until %v after SIGCONT",
		answered.Round(time.Millisecond), staged, time.Since(resumed).Round(time.Millisecond))
	g.Continue()
	assert.Zero(t, g.Wait().ExitCode)
}
