//go:build cgo && linux

package tokenfaults

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/provider"
)

// TestTokenHangInline is TestTokenHang with hsm.Config.InlineCalls, which
// gives up exactly one thing: a caller whose call is inside the token when
// it stops answering waits until it answers. The test shows that this is
// all it gives up: the callers that find every pooled session held by the
// hung token get timedout within their deadline (the host does not hang),
// the OS threads stay bounded by the sessions, the callers inside the
// token get their answer after SIGCONT, and the service goes on.
func TestTokenHangInline(t *testing.T) {
	fx, r := remoteToken(t)
	const pooled = 3 // MaxSessions 4: the persistent session and 3 pooled
	b := openBackend(t, fx, r.Module, func(c *hsm.Config) { c.InlineCalls = true })
	ctx := context.Background()

	managed, err := b.OpenManagedKey(ctx, managedName, provider.Guest{Name: "load"})
	require.NoError(t, err)
	ms := newSigner(t, managed)
	class, err := ms.sign(ctx)
	require.Equal(t, ok, class, "%v", err)

	callers := pick(32, 128)
	hang := pick(3*time.Second, 10*time.Second)
	threadsBefore := threads(t)
	watch := watchThreads(t)

	resume := hangToken(t, r)
	stoppedAt := time.Now()
	rec := &recorder{}
	wg := signAll(ctx, callers, func(int) signer { return ms }, rec)
	time.Sleep(hang - time.Since(stoppedAt))
	duringHang := rec.all()
	threadsMost := watch.max()

	continuedAt := time.Now()
	resume()
	wg.Wait()
	inside := summarize(rec.all(), func(s sample) bool { return s.end.After(continuedAt) })
	waited := summarize(duringHang, nil)
	t.Logf("%d callers while the token hung: %d answered during the hang: %v", callers, waited.n, waited)
	t.Logf("%d answered after SIGCONT: %v", inside.n, inside)
	t.Logf("OS threads: before %d, most while hung %d", threadsBefore, threadsMost)

	// Everyone who did not reach the token timed out waiting for a
	// session, within the deadline.
	assert.GreaterOrEqual(t, waited.n, callers-pooled, "callers that answered while the token hung")
	assert.Equal(t, waited.n, waited.classes[timedout], "every answer during the hang is timedout: %v", waited)
	assert.LessOrEqual(t, waited.maxLatency, callTimeout+margin())
	// Those inside the token waited for it, and got its answer.
	assert.Equal(t, callers, waited.n+inside.n)
	assert.Equal(t, pooled, inside.n, "callers held inside the hung token: one per pooled session")
	assert.Equal(t, inside.n, inside.classes[ok], "the callers inside the token get its answer: %v", inside)
	assert.LessOrEqual(t, threadsMost, threadsBefore+pooled+8, "OS threads while %d callers met a hung token", callers)

	// The service goes on, with nothing to recover.
	class, err = ms.sign(ctx)
	require.Equal(t, ok, class, "%v", err)
	assert.True(t, b.Stats().Healthy)
}
