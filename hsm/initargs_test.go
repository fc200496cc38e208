//go:build cgo

package hsm_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/provider"
)

// TestInitArgsOnePerModule: a module is initialised once per process, so
// while it is in use, a user that asks for other init args is refused
// rather than given the module as the first user initialised it; the
// same args share it. (That the args reach C_Initialize shows on NSS
// softokn, which cannot start without them: TestNSSSoftokn.)
func TestInitArgsOnePerModule(t *testing.T) {
	tg := direct(t)
	b := open(t, tg)

	other := tg.config()
	other.InitArgs = "configdir='sql:/nonexistent'"
	ob, err := hsm.Open(ctx, other)
	if err == nil {
		require.NoError(t, ob.Close())
	}
	require.ErrorIs(t, err, provider.ErrInvalidArgument)
	require.Contains(t, err.Error(), "other init args")
	a, err := hsm.OpenAdmin(ctx, other, hsm.AdminOptions{ReadOnly: true})
	if err == nil {
		require.NoError(t, a.Close())
	}
	require.ErrorIs(t, err, provider.ErrInvalidArgument)
	_, err = hsm.Slots(ctx, tg.module, other.InitArgs)
	require.ErrorIs(t, err, provider.ErrInvalidArgument)

	// The same (empty) args share the module; the first user works on.
	slots, err := hsm.Slots(ctx, tg.module, "")
	require.NoError(t, err)
	require.NotEmpty(t, slots)
	k := generate(t, b, provider.KeyRequest{Algorithm: alg("HS256")})
	destroy(t, k)
}
