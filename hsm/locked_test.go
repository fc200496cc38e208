//go:build cgo

package hsm_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/provider"
)

// TestInlineCallsOnALockedThread: a caller locked to its OS thread, which
// cannot switch to the default's coroutines, makes its token calls with
// Config.InlineCalls.
func TestInlineCallsOnALockedThread(t *testing.T) {
	ctx := context.Background()
	b := open(t, direct(t), func(c *hsm.Config) { c.InlineCalls = true })
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		k, err := b.GenerateKey(ctx, provider.KeyRequest{Algorithm: alg("HS256"), Input: make([]byte, 32)})
		if err != nil {
			done <- err
			return
		}
		defer k.Destroy(ctx)
		st, err := k.(provider.Signer).NewSignState(ctx, 1<<10)
		if err != nil {
			done <- err
			return
		}
		defer st.Close()
		if err := st.Update(ctx, []byte("message")); err != nil {
			done <- err
			return
		}
		_, err = st.Sign(ctx, nil)
		done <- err
	}()
	require.NoError(t, <-done)
}
