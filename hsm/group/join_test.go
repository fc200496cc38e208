//go:build cgo

package group_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"math/big"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/hsm/group"
)

// TestJoinLater: the group's second token does not exist when the group
// opens (no token has its label yet): the group opens with the first,
// shows the second down with its error, and once the token is made in
// the same SoftHSM2 directory — the module, shared with the first token,
// lists it only after it is initialised again — it joins within 5 s:
// healthy, its keys checked (missing: it holds none), and the first
// token signs throughout.
func TestJoinLater(t *testing.T) {
	fxs, k := setup(t)
	util, err := exec.LookPath("softhsm2-util")
	require.NoError(t, err)
	id := make([]byte, 4)
	_, _ = rand.Read(id)
	label := "late-" + hex.EncodeToString(id)
	cfg := groupConfig(fxs[:1], group.Balance)
	late := tokenConfig(fxs[0])
	late.Token = hsm.TokenSelector{Label: label}
	cfg.Tokens = append(cfg.Tokens, late)
	g := openGroup(t, cfg)
	st := g.Status()
	require.Len(t, st, 2)
	require.Equal(t, group.Healthy, st[0].State)
	require.Equal(t, group.Down, st[1].State)
	require.Error(t, st[1].LastError)
	require.Equal(t, group.KeyUnchecked, st[1].Keys["sig"])
	require.Len(t, g.OpenErrors(), 1)

	softhsm := func(args ...string) {
		cmd := exec.Command(util, args...)
		cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+fxs[0].ConfPath)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
	}
	softhsm("--init-token", "--free", "--label", label, "--pin", fxs[0].PIN, "--so-pin", fxs[0].SOPIN)
	t.Cleanup(func() { softhsm("--delete-token", "--token", label) })
	made := time.Now()
	sig, err := g.OpenManagedKey(context.Background(), "sig", guest)
	require.NoError(t, err)
	signed := 0
	for g.Status()[1].State != group.Healthy && time.Since(made) < 5*time.Second {
		msg := []byte("the first token serves meanwhile")
		r := sign(t, sig, msg)
		h := sha256.Sum256(msg)
		assert.True(t, ecdsa.Verify(&k.ec.PublicKey, h[:], new(big.Int).SetBytes(r[:32]), new(big.Int).SetBytes(r[32:])))
		signed++
		time.Sleep(5 * time.Millisecond)
	}
	s := g.Status()[1]
	t.Logf("joined %v after the token was made; %d signatures meanwhile", time.Since(made).Round(time.Millisecond), signed)
	require.Equal(t, group.Healthy, s.State, "joined within 5 s: %v", s.LastError)
	assert.Equal(t, group.KeyMissing, s.Keys["sig"], "checked: it holds none of the keys")
	assert.Empty(t, g.OpenErrors())
}
