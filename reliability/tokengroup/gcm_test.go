//go:build cgo && linux

package tokengroup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/hsm/group"
	"github.com/wasihsm/wasihsm/provider"
)

// TestGCMUnservableThroughProxy: p11-kit's remoting (Debian 12's 0.24.1)
// carries no AES-GCM: its client drops CKM_AES_GCM from the mechanism
// list and answers C_EncryptInit with it CKR_MECHANISM_INVALID without
// asking the server (docs/reliability.md#token-groups). The same AES-256
// key, written on each token directly, is listed with AES-GCM there and
// not through the proxy; the group, asked to manage it, keeps every token
// healthy and serving its other keys, says the key is unsupported on
// each, and refuses it when a guest opens it (notsup), not when it seals.
func TestGCMUnservableThroughProxy(t *testing.T) {
	fx, k := newGroup(t)
	id := make([]byte, 4)
	_, _ = rand.Read(id)
	label := "seal-" + hex.EncodeToString(id)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	file := filepath.Join(t.TempDir(), "aes.key")
	require.NoError(t, os.WriteFile(file, key, 0o600))
	for i := range fx.Tokens {
		fx.Tool(t, i, "--write-object", file, "--type", "secrkey", "--key-type", "AES:32", "--label", label,
			"--id", hex.EncodeToString(id), "--usage-decrypt", "--sensitive")
	}
	t.Cleanup(func() {
		for i := range fx.Tokens {
			fx.Tool(t, i, "--delete-object", "--type", "secrkey", "--label", label)
		}
	})
	require.Contains(t, fx.Tool(t, 0, "-M"), "AES-GCM", "SoftHSM2 itself offers AES-GCM")
	out, err := exec.Command("pkcs11-tool", "--module", fx.Module, "--slot", proxySlot(t, fx.Module, fx.Tokens[0].Serial), "-M").CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "ECDSA", "the proxy lists the token's mechanisms")
	require.NotContains(t, string(out), "AES-GCM", "p11-kit's remoting carries no AES-GCM: if it does now, put sealing in TestAvailability and update docs/reliability.md")

	sealRule := []hsm.GuestRule{{Module: "load"}}
	cfg := group.Config{CallTimeout: callTimeout, ManagedKeys: []hsm.ManagedKey{
		{Name: "sig", Label: "sig", ID: []byte{1}, Algorithm: provider.MustLookup("ES256"), Guests: sealRule},
		{Name: "seal", Label: label, ID: id, Algorithm: provider.MustLookup("A256GCM"), Guests: sealRule},
	}}
	for _, tok := range fx.Tokens {
		cfg.Tokens = append(cfg.Tokens, tokenConfig(fx, tok))
	}
	g, err := group.Open(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = g.Close() })
	for _, s := range g.Status() {
		assert.Equal(t, group.Healthy, s.State, "token %d", s.Index)
		assert.Equal(t, group.KeyPresent, s.Keys["sig"], "token %d", s.Index)
		assert.Equal(t, group.KeyUnsupported, s.Keys["seal"], "token %d", s.Index)
		assert.ErrorIs(t, s.LastError, provider.ErrNotSupported, "token %d", s.Index)
	}
	ctx := context.Background()
	_, err = g.OpenManagedKey(ctx, "seal", provider.Guest{Name: "load"})
	assert.ErrorIs(t, err, provider.ErrNotSupported, "the guest is refused when it opens the key")
	sig, err := g.OpenManagedKey(ctx, "sig", provider.Guest{Name: "load"})
	require.NoError(t, err)
	msg := []byte("the other keys are served")
	out2, _, err := signWith(ctx, sig, msg)
	require.NoError(t, err)
	assert.True(t, k.verifySig(msg, out2))
}

// proxySlot returns the proxy's slot id of the token with serial, as
// pkcs11-tool --slot takes it.
func proxySlot(t *testing.T, module, serial string) string {
	t.Helper()
	out, err := exec.Command("pkcs11-tool", "--module", module, "-L").CombinedOutput()
	require.NoError(t, err, "%s", out)
	slot := ""
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == "Slot" {
			slot = strings.Trim(f[2], "():")
		}
		if len(f) >= 4 && f[0] == "serial" && f[3] == serial {
			return slot
		}
	}
	t.Fatalf("no slot of the proxy has serial %s", serial)
	return ""
}
