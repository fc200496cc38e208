//go:build cgo

package hsm

import (
	"context"
	"testing"
	"time"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStats holds a real backend's pool busy and checks what Stats says:
// the sessions in use, an operation waiting for one, and health.
func TestStats(t *testing.T) {
	b, _ := openInternal(t, func(c *Config) {
		c.MaxSessions = 3 // the persistent session and a pool of 2
		c.SessionWait = 10 * time.Second
	})
	ctx := context.Background()
	s := b.Stats()
	assert.True(t, s.Healthy)
	assert.Zero(t, s.Recoveries)
	assert.Zero(t, s.SessionsInUse)
	assert.Zero(t, s.SessionsWaiting)

	// Take the whole pool, as two operations would.
	pool := b.pool.Load()
	held := []pkcs11.SessionHandle{takeSession(t, b), takeSession(t, b)}
	s = b.Stats()
	assert.Equal(t, 2, s.SessionsInUse)
	assert.Equal(t, 2, s.SessionsOpen)
	assert.Zero(t, s.SessionsWaiting)

	// A third operation waits.
	got := make(chan error, 1)
	go func() {
		sh, err := pool.get(ctx, time.Time{})
		if err == nil {
			pool.put(sh, true)
		}
		got <- err
	}()
	require.Eventually(t, func() bool { return b.Stats().SessionsWaiting == 1 }, 5*time.Second, time.Millisecond)

	// Give one back: the waiter runs, and nothing waits any more.
	pool.put(held[0], true)
	require.NoError(t, <-got)
	pool.put(held[1], true)
	s = b.Stats()
	assert.Zero(t, s.SessionsWaiting)
	assert.Zero(t, s.SessionsInUse)
	assert.Equal(t, 2, s.SessionsOpen, "both sessions stay open, idle")
	assert.True(t, s.Healthy)
}
