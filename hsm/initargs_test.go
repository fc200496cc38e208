//go:build cgo

package hsm_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/provider"
)

// TestInitArgsOnePerModule: a module is initialised once per process, so
// a second user that asks for other init args is refused rather than
// given the module as the first user initialised it; the same args share
// it, and once the last user has gone the module takes new ones.
// (SoftHSM2 refuses any pReserved, CKR_ARGUMENTS_BAD, which shows that
// the args do reach C_Initialize.)
func TestInitArgsOnePerModule(t *testing.T) {
	tg := direct(t)
	b := open(t, tg)

	other := tg.config()
	other.InitArgs = "configdir='sql:/nonexistent'"
	_, err := hsm.Open(ctx, other)
	require.ErrorIs(t, err, provider.ErrInvalidArgument)
	require.Contains(t, err.Error(), "other init args")
	_, err = hsm.OpenAdmin(ctx, other, hsm.AdminOptions{ReadOnly: true})
	require.ErrorIs(t, err, provider.ErrInvalidArgument)
	_, err = hsm.Slots(ctx, tg.module, other.InitArgs)
	require.ErrorIs(t, err, provider.ErrInvalidArgument)

	// The same (empty) args share the module; the first user works on.
	slots, err := hsm.Slots(ctx, tg.module, "")
	require.NoError(t, err)
	require.NotEmpty(t, slots)
	k := generate(t, b, provider.KeyRequest{Algorithm: alg("HS256")})
	destroy(t, k)
	require.NoError(t, b.Close())

	// With every user gone, the module is initialised anew with the
	// other args, and SoftHSM2 refuses them.
	_, err = hsm.Open(ctx, other)
	var te *hsm.TokenError
	require.ErrorAs(t, err, &te)
	require.Equal(t, "CKR_ARGUMENTS_BAD", te.Name)
}
