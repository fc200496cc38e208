//go:build cgo

package hsm

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/internal/softhsmtest"
	"github.com/wasihsm/wasihsm/provider"
)

// The session objects of destroyed keys are gone from the token, whatever
// the token did while they were destroyed: hung (a timeout-only recovery,
// after which keys made before it keep working), restarted (a recovery
// that initialises the module again, after which keys made before it are
// lost), or busy with a long call on the persistent session. The objects
// are counted through the backend's own persistent session, which sees its
// session objects through p11-kit remoting too (an inspector of the test's
// own would not).

// sessionObjects counts the session objects the backend's persistent
// session sees (its own, and through a direct module every other of the
// process's).
func sessionObjects(t *testing.T, b *Backend) int {
	t.Helper()
	n := 0
	err := b.withMain(context.Background(), "count session objects", false, func(s pkcs11.SessionHandle) error {
		n = 0
		if err := b.p.FindObjectsInit(s, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false)}); err != nil {
			return err
		}
		for {
			objs, _, err := b.p.FindObjects(s, 100)
			if err != nil {
				_ = b.p.FindObjectsFinal(s)
				return err
			}
			if len(objs) == 0 {
				return b.p.FindObjectsFinal(s)
			}
			n += len(objs)
		}
	}, nil)
	require.NoError(t, err)
	return n
}

// signOnce signs a short message with k.
func signOnce(ctx context.Context, k provider.Key) error {
	st, err := k.(provider.Signer).NewSignState(ctx, 1<<10)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Update(ctx, []byte("message")); err != nil {
		return err
	}
	_, err = st.Sign(ctx, nil)
	return err
}

func genKey(t *testing.T, b *Backend, name string) provider.Key {
	t.Helper()
	k, err := b.GenerateKey(context.Background(), provider.KeyRequest{Algorithm: provider.MustLookup(name)})
	require.NoError(t, err, name)
	return k
}

// waitHealthy waits until the backend has recovered recoveries times in
// all and serves calls again.
func waitHealthy(t *testing.T, b *Backend, recoveries uint64) {
	t.Helper()
	require.Eventually(t, func() bool {
		st := b.Stats()
		return st.Healthy && st.Recoveries >= recoveries
	}, 30*time.Second, 5*time.Millisecond, "the backend did not recover")
}

// TestDestroyWhileTheTokenHangs: while the p11-kit server is stopped
// (SIGSTOP), a Destroy that reaches the hung token times out and finishes
// once the token answers; one made while the backend waits for the token
// (the recovery after that timeout) fails fast; the objects of both are
// gone once the token answers again. A key made before the hang keeps
// working, since nothing was initialised again.
func TestDestroyWhileTheTokenHangs(t *testing.T) {
	fx := softhsmtest.Token(t)
	r := fx.Remote(t)
	b, _ := openInternal(t, func(c *Config) {
		c.Module, c.Token = r.Module, TokenSelector{Label: r.Label}
		c.CallTimeout = 300 * time.Millisecond
	})
	ctx := context.Background()
	base := sessionObjects(t, b)
	abandoned := genKey(t, b, "ES256")
	doomed := genKey(t, b, "ES256")
	kept := genKey(t, b, "ES256")
	require.Equal(t, base+6, sessionObjects(t, b))
	gen := b.gen.Load()

	r.Stop(t)
	stopped := true
	t.Cleanup(func() {
		if stopped {
			r.Continue(t)
		}
	})
	require.ErrorIs(t, abandoned.Destroy(ctx), provider.ErrTimeout, "the destroy reaches the hung token")
	require.False(t, b.Stats().Healthy, "a timeout makes the backend suspect the token")
	assert.False(t, b.Stats().Pausing, "a token that hangs failed itself: not pausing")
	start := time.Now()
	require.NoError(t, doomed.Destroy(ctx), "destroying a key while the backend waits for the token")
	assert.Less(t, time.Since(start), 2*time.Second, "Destroy did not wait for the hung token")
	r.Continue(t)
	stopped = false

	waitHealthy(t, b, 1)
	assert.Equal(t, gen, b.gen.Load(), "a timeout-only recovery keeps the persistent session")
	require.NoError(t, signOnce(ctx, kept), "a key made before the hang still signs")
	n := 0
	assert.Eventually(t, func() bool { n = sessionObjects(t, b); return n == base+2 }, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, base+2, n, "the destroyed keys' objects are gone once the token answers")
	require.NoError(t, kept.Destroy(ctx))
	assert.Equal(t, base, sessionObjects(t, b), "session objects back to the baseline")
}

// TestDestroyWithAnEndedContext: a Destroy whose context has ended (the
// guest's instance was cancelled) still has the key's objects destroyed.
func TestDestroyWithAnEndedContext(t *testing.T) {
	b, _ := openInternal(t, nil)
	base := sessionObjects(t, b)
	k := genKey(t, b, "ES256")
	require.Equal(t, base+2, sessionObjects(t, b))
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	require.NoError(t, k.Destroy(ended))
	n := 0
	assert.Eventually(t, func() bool { n = sessionObjects(t, b); return n == base }, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, base, n, "session objects back to the baseline")
	require.ErrorIs(t, k.Destroy(context.Background()), provider.ErrInvalidArgument, "the key is destroyed")
}

// TestDestroyWhileThePersistentSessionIsBusy: a key destroyed while a long
// call (an RSA key generation) holds the persistent session for longer
// than the session wait still has its objects destroyed.
func TestDestroyWhileThePersistentSessionIsBusy(t *testing.T) {
	b, _ := openInternal(t, func(c *Config) { c.SessionWait = time.Millisecond })
	ctx := context.Background()
	base := sessionObjects(t, b)
	busyOnce := false
	for attempt := 0; attempt < 5 && !busyOnce; attempt++ {
		k := genKey(t, b, "ES256")
		rsaDone := make(chan provider.Key, 1)
		go func() {
			k, err := b.GenerateKey(ctx, provider.KeyRequest{Algorithm: provider.MustLookup("PS256")})
			assert.NoError(t, err)
			rsaDone <- k
		}()
		require.Eventually(t, func() bool { return len(b.mainLock) == 1 }, 5*time.Second, 50*time.Microsecond)
		busyOnce = len(b.mainLock) == 1
		require.NoError(t, k.Destroy(ctx), "destroying a key while the persistent session is busy")
		if rk := <-rsaDone; rk != nil {
			require.NoError(t, rk.Destroy(ctx))
		}
		n := 0
		assert.Eventually(t, func() bool { n = sessionObjects(t, b); return n == base }, 10*time.Second, 20*time.Millisecond)
		require.Equal(t, base, n, "session objects back to the baseline (attempt %d)", attempt)
	}
	require.True(t, busyOnce, "no Destroy found the persistent session busy")
}

// TestAbandonedCreationLeavesNothing: a key generation that the call
// deadline abandoned (a real RSA generation outlasting a tiny deadline)
// has its objects destroyed when it finishes, with a timeout-only
// recovery and with one that initialises the module again; keys made
// before a reinitialisation are lost, and their Destroy succeeds.
func TestAbandonedCreationLeavesNothing(t *testing.T) {
	for _, reinit := range []bool{false, true} {
		name := map[bool]string{false: "timeout-only recovery", true: "module initialised again"}[reinit]
		t.Run(name, func(t *testing.T) {
			b, _ := openInternal(t, nil)
			ctx := context.Background()
			base := sessionObjects(t, b)
			before := genKey(t, b, "ES256")
			ps := provider.MustLookup("PS256")
			// Probed before the deadline shrinks: the generation below is
			// what must time out.
			require.Equal(t, provider.Native, b.Supports(ps, provider.OpGenerate))
			normal := b.callTimeout
			b.callTimeout = time.Millisecond // RSA generation gets 6 ms
			_, err := b.GenerateKey(ctx, provider.KeyRequest{Algorithm: ps})
			b.callTimeout = normal
			require.ErrorIs(t, err, provider.ErrTimeout)
			if reinit {
				// Another user of the module initialises it again while the
				// generation runs: reinit gives up while the generation is
				// in the module (reinitDrain) and succeeds once it ended,
				// as the recovery's retries do.
				epoch := b.mod.epoch.Load()
				require.Eventually(t, func() bool { return b.mod.reinit(epoch) == nil }, 30*time.Second, 5*time.Millisecond)
			}
			require.Eventually(t, func() bool { return !b.mod.busy() }, 30*time.Second, 5*time.Millisecond)
			if reinit {
				// The backend notices at its next call.
				require.Eventually(t, func() bool {
					return errors.Is(signOnce(ctx, before), provider.ErrKeyLost)
				}, 10*time.Second, 5*time.Millisecond)
			}
			waitHealthy(t, b, 1)
			if reinit {
				require.ErrorIs(t, signOnce(ctx, before), provider.ErrKeyLost)
				assert.Equal(t, 0, sessionObjects(t, b), "the module's reinitialisation took every session object")
				require.NoError(t, before.Destroy(ctx))
				return
			}
			require.NoError(t, signOnce(ctx, before), "a key made before the timeout still signs")
			assert.Equal(t, base+2, sessionObjects(t, b), "the abandoned generation left nothing")
			require.NoError(t, before.Destroy(ctx))
			assert.Equal(t, base, sessionObjects(t, b), "session objects back to the baseline")
		})
	}
}
