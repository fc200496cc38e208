//go:build cgo

package hsm

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/internal/softhsmtest"
	"github.com/wasihsm/wasihsm/provider"
)

// openInternal opens a backend on the test token, counting the PIN's
// uses.
func openInternal(t *testing.T, edit func(*Config)) (*Backend, *atomic.Int32) {
	t.Helper()
	fx := softhsmtest.Token(t)
	var asked atomic.Int32
	cfg := Config{
		Module: fx.Module,
		Token:  TokenSelector{Label: fx.Label},
		PIN: func() ([]byte, error) {
			asked.Add(1)
			return []byte(fx.PIN), nil
		},
	}
	if edit != nil {
		edit(&cfg)
	}
	b, err := Open(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close()) })
	return b, &asked
}

// takeSession takes a session out of b's pool, opening it when the pool
// gives room for one.
func takeSession(t *testing.T, b *Backend) pkcs11.SessionHandle {
	t.Helper()
	pool := b.pool.Load()
	s, err := pool.get(context.Background(), time.Time{})
	require.NoError(t, err)
	require.NoError(t, b.openSessionIn(pool, &s))
	return s
}

// TestPoolBounds: the pool never holds more than its size; a waiter gets
// nfile when the wait runs out, timedout when its context ends first.
func TestPoolBounds(t *testing.T) {
	ctx := context.Background()
	b, _ := openInternal(t, func(c *Config) { c.MaxSessions = 3; c.SessionWait = 50 * time.Millisecond })
	require.Equal(t, 2, b.pool.Load().size, "three sessions: the persistent one and two pooled")

	s1 := takeSession(t, b)
	s2 := takeSession(t, b)
	require.NotEqual(t, s1, s2)

	start := time.Now()
	_, err := b.pool.Load().get(ctx, time.Time{})
	require.ErrorIs(t, err, provider.ErrNoResources)
	require.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond)

	// Operations wait for a session the same way.
	h, err := b.NewHash(ctx, provider.MustLookup("SHA-256"))
	require.NoError(t, err)
	require.ErrorIs(t, h.Digest(make([]byte, 32)), provider.ErrNoResources)
	k, err := b.GenerateKey(ctx, provider.KeyRequest{Algorithm: provider.MustLookup("HS256")})
	require.NoError(t, err, "creation uses the persistent session, not the pool")
	st, err := k.(provider.Signer).NewSignState(ctx, 10)
	require.NoError(t, err)
	short, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
	defer cancel()
	_, err = st.Sign(short, nil)
	require.ErrorIs(t, err, provider.ErrTimeout)

	// A session put back serves the next waiter.
	waited := make(chan error, 1)
	go func() {
		_, err := st.Sign(ctx, nil)
		waited <- err
	}()
	time.Sleep(10 * time.Millisecond)
	b.pool.Load().put(s1, true)
	require.NoError(t, <-waited)
	b.pool.Load().put(s2, true)
	require.NoError(t, h.Digest(make([]byte, 32)))
	require.NoError(t, k.Destroy(ctx))
}

// TestDeadSessionEvicted: a pooled session closed behind the pool's back
// is found dead at its next use, closed and replaced, and the operation
// succeeds.
func TestDeadSessionEvicted(t *testing.T) {
	ctx := context.Background()
	b, _ := openInternal(t, nil)
	s := takeSession(t, b)
	require.NoError(t, b.p.CloseSession(s), "behind the pool's back")
	b.pool.Load().put(s, true)
	require.Contains(t, b.pool.Load().idle, s)

	k, err := b.GenerateKey(ctx, provider.KeyRequest{Algorithm: provider.MustLookup("HS256")})
	require.NoError(t, err)
	st, err := k.(provider.Signer).NewSignState(ctx, 10)
	require.NoError(t, err)
	sig, err := st.Sign(ctx, nil)
	require.NoError(t, err)
	require.Len(t, sig, 32)
	require.False(t, slices.Contains(b.pool.Load().idle, s), "the dead session left the pool")
	require.NoError(t, k.Destroy(ctx))
}

// TestPersistentSessionLost: when the persistent session dies, the backend
// opens a new one and logs in again; the keys of the old one are gone with
// it and say so (notrecoverable).
func TestPersistentSessionLost(t *testing.T) {
	ctx := context.Background()
	b, asked := openInternal(t, nil)
	require.EqualValues(t, 1, asked.Load())
	old, err := b.GenerateKey(ctx, provider.KeyRequest{Algorithm: provider.MustLookup("ES256")})
	require.NoError(t, err)
	gen := b.gen.Load()
	require.NoError(t, b.p.CloseSession(b.main), "behind the backend's back")

	k, err := b.GenerateKey(ctx, provider.KeyRequest{Algorithm: provider.MustLookup("ES256")})
	require.NoError(t, err)
	require.Equal(t, gen+1, b.gen.Load())
	require.EqualValues(t, 2, asked.Load(), "logged in on the new session")
	st, err := k.(provider.Signer).NewSignState(ctx, 10)
	require.NoError(t, err)
	_, err = st.Sign(ctx, nil)
	require.NoError(t, err)

	_, err = old.(provider.Signer).NewSignState(ctx, 10)
	require.ErrorIs(t, err, provider.ErrKeyLost)
	require.NoError(t, old.Destroy(ctx), "nothing left to destroy")
	require.NoError(t, k.Destroy(ctx))
}

// TestRelogin: when the token forgets the login, the backend asks the PIN
// source again, logs in, and the operation goes through.
func TestRelogin(t *testing.T) {
	ctx := context.Background()
	b, asked := openInternal(t, nil)
	require.NoError(t, b.p.Logout(b.main), "the token forgets the login")
	k, err := b.GenerateKey(ctx, provider.KeyRequest{Algorithm: provider.MustLookup("A256GCM")})
	require.NoError(t, err, "creating a private object needs the login back")
	require.EqualValues(t, 2, asked.Load())
	_, err = k.(provider.AEADKey).Seal(ctx, nil, make([]byte, 12), []byte("x"), nil)
	require.NoError(t, err)
	require.NoError(t, k.Destroy(ctx))
}
