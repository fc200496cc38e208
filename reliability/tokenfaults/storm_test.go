//go:build cgo && linux

package tokenfaults

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/internal/softhsmtest"
	"github.com/wasihsm/wasihsm/provider"
)

// TestSessionStorm: hundreds of callers on a backend with three sessions
// (the persistent one and a pool of two), signing with the managed key,
// computing HMACs with a key of the backend's and creating and destroying
// keys. No call may fail: no deadlock, no CKR_SESSION_COUNT, no error at
// all reaches a caller.
func TestSessionStorm(t *testing.T) {
	storm(t, false)
}

// TestLoginStorm: the same storm with the managed key alone, while the
// token forgets the login now and then (another session of the process
// logs out, which logs out every session). The backend logs in again from
// many callers at once: no CKR_USER_ALREADY_LOGGED_IN, no error at all
// reaches a caller. (Keys the backend created are left out: SoftHSM2 drops
// the handles of private session objects at C_Logout, so they are lost,
// and say so: notrecoverable.)
func TestLoginStorm(t *testing.T) {
	storm(t, true)
}

func storm(t *testing.T, logouts bool) {
	fx, _ := remoteToken(t)
	b := openBackend(t, fx, fx.Module, func(c *hsm.Config) {
		c.MaxSessions = 3
		// Waiting is the point: hundreds of callers queue for two sessions.
		c.SessionWait = time.Minute
		c.CallTimeout = time.Minute
	})
	ctx := context.Background()
	managed, err := b.OpenManagedKey(ctx, managedName, provider.Guest{Name: "load"})
	require.NoError(t, err)
	ms := newSigner(t, managed)
	hmacKey, err := b.GenerateKey(ctx, provider.KeyRequest{Algorithm: provider.MustLookup("HS256")})
	require.NoError(t, err)
	in := softhsmtest.Inspect(t, fx.Module, fx.Label, fx.PIN)

	callers := pick(300, 2000)
	rounds := pick(4, 10)
	nLogouts := 0
	if logouts {
		nLogouts = pick(3, 20)
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		errs   []error
		counts = map[string]int{}
	)
	record := func(what string, err error) {
		mu.Lock()
		defer mu.Unlock()
		counts[what]++
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
		}
	}
	start := time.Now()
	stop := make(chan struct{})
	loggedOut := make(chan int, 1)
	// logoutsDone closes when the logouts are over: in the login storm the
	// callers go on until then, however fast their rounds are.
	logoutsDone := make(chan struct{})
	stormOn := func(r int) bool {
		if r < rounds {
			return true
		}
		if !logouts {
			return false
		}
		select {
		case <-logoutsDone:
			return false
		default:
			return true
		}
	}
	go func() {
		n := 0
		defer func() { close(logoutsDone); loggedOut <- n }()
		for range nLogouts {
			select {
			case <-stop:
				return
			case <-time.After(150 * time.Millisecond):
			}
			if in.Ctx().Logout(in.Session()) == nil {
				n++
			}
		}
	}()
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; stormOn(r); r++ {
				op := (i + r) % 5
				if logouts {
					op = 0
				}
				switch op {
				case 0, 1, 2:
					class, err := ms.sign(ctx)
					if class != ok && err == nil {
						err = fmt.Errorf("%s", class)
					}
					record("sign", err)
				case 3:
					st, err := hmacKey.(provider.Signer).NewSignState(ctx, 64)
					if err == nil {
						_, err = st.Sign(ctx, nil)
						st.Close()
					}
					record("hmac", err)
				case 4:
					k, err := b.GenerateKey(ctx, provider.KeyRequest{Algorithm: provider.MustLookup("ES256")})
					if err == nil {
						err = k.Destroy(ctx)
					}
					record("generate+destroy", err)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stop)
	done := <-loggedOut
	t.Logf("%d callers x at least %d operations on 3 sessions in %v (%v), %d logouts behind the backend's back; %d errors",
		callers, rounds, elapsed.Round(time.Millisecond), counts, done, len(errs))
	for _, err := range errs {
		msg := err.Error()
		switch {
		case strings.Contains(msg, "CKR_SESSION_COUNT"), strings.Contains(msg, "CKR_USER_ALREADY_LOGGED_IN"):
			t.Errorf("reached a caller: %v", err)
		default:
			t.Errorf("%v", err)
		}
	}
	calls := counts["sign"] + counts["hmac"] + counts["generate+destroy"]
	if logouts {
		assert.GreaterOrEqual(t, calls, callers*rounds)
	} else {
		assert.Equal(t, callers*rounds, calls)
	}
	if logouts {
		assert.NotZero(t, done, "the token forgot the login during the storm")
	}
	err = hmacKey.Destroy(ctx)
	if !logouts {
		require.NoError(t, err)
	}
}
