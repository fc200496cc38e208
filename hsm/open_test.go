//go:build cgo

package hsm_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/internal/softhsmtest"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/provider/providertest"
)

// TestAllowList: only allowed modules load.
func TestAllowList(t *testing.T) {
	tg := direct(t)
	for _, tc := range []struct {
		name    string
		allowed []string
		want    error
	}{
		{"not listed", []string{"/usr/lib/other/libother.so"}, provider.ErrAccessDenied},
		{"empty entry", []string{""}, provider.ErrAccessDenied},
		{"listed", []string{"/usr/lib/other/libother.so", tg.module}, nil},
		{"listed, unclean", []string{filepath.Dir(tg.module) + "//./" + filepath.Base(tg.module)}, nil},
		{"default: the module itself", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tg.config()
			cfg.AllowedModules = tc.allowed
			b, err := hsm.Open(ctx, cfg)
			if tc.want == nil {
				require.NoError(t, err)
				require.NoError(t, b.Close())
				return
			}
			require.ErrorIs(t, err, tc.want)
			require.Contains(t, err.Error(), "not in the allowed modules")
		})
	}
	// A module named elsewhere (a PKCS#11 URI's module-path) is checked
	// against the same list.
	cfg := tg.config()
	require.NoError(t, hsm.AllowModule(tg.module, cfg))
	require.ErrorIs(t, hsm.AllowModule("/tmp/evil.so", cfg), provider.ErrAccessDenied)
	cfg.AllowedModules = []string{tg.module, "/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so"}
	require.NoError(t, hsm.AllowModule("/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so", cfg))
}

// TestOpenErrors names the failure of each misconfiguration.
func TestOpenErrors(t *testing.T) {
	fx := softhsmtest.Token(t)
	tg := direct(t)
	slots, err := hsm.Slots(ctx, tg.module, "")
	require.NoError(t, err)
	var free *uint
	for _, s := range slots {
		if s.TokenPresent && s.Flags&0x400 == 0 { // CKF_TOKEN_INITIALIZED
			id := s.ID
			free = &id
		}
	}
	require.NotNil(t, free, "SoftHSM2 always offers a free slot")
	notModule := filepath.Join(t.TempDir(), "not-a-module.so")
	require.NoError(t, os.WriteFile(notModule, []byte("not a library"), 0o600))
	failingPIN := errors.New("PIN file unreadable")
	canceled, cancel := context.WithCancel(ctx)
	cancel()

	for _, tc := range []struct {
		name string
		ctx  context.Context
		edit func(*hsm.Config)
		want error
	}{
		{"no module", ctx, func(c *hsm.Config) { c.Module = "" }, provider.ErrInvalidArgument},
		{"no token selector", ctx, func(c *hsm.Config) { c.Token = hsm.TokenSelector{} }, provider.ErrInvalidArgument},
		{"negative limits", ctx, func(c *hsm.Config) { c.MaxBuffered = -1 }, provider.ErrInvalidArgument},
		{"negative call timeout", ctx, func(c *hsm.Config) { c.CallTimeout = -time.Second }, provider.ErrInvalidArgument},
		{"not a module", ctx, func(c *hsm.Config) { c.Module = notModule }, provider.ErrDevice},
		{"no such label", ctx, func(c *hsm.Config) { c.Token.Label = "no such token" }, provider.ErrNotFound},
		{"label and wrong serial", ctx, func(c *hsm.Config) { c.Token.Serial = "0000" }, provider.ErrNotFound},
		{"ambiguous model", ctx, func(c *hsm.Config) { c.Token = hsm.TokenSelector{Model: "SoftHSM v2"} }, provider.ErrInvalidArgument},
		{"uninitialised token", ctx, func(c *hsm.Config) { c.Token = hsm.TokenSelector{SlotID: free} }, provider.ErrDevice},
		{"wrong PIN", ctx, func(c *hsm.Config) { c.PIN = pinOf("wrong-" + fx.PIN) }, provider.ErrAccessDenied},
		{"failing PIN source", ctx, func(c *hsm.Config) { c.PIN = func() ([]byte, error) { return nil, failingPIN } }, provider.ErrAccessDenied},
		{"no PIN source", ctx, func(c *hsm.Config) { c.PIN = nil }, provider.ErrAccessDenied},
		{"canceled context", canceled, func(*hsm.Config) {}, provider.ErrTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tg.config()
			tc.edit(&cfg)
			b, err := hsm.Open(tc.ctx, cfg)
			require.ErrorIs(t, err, tc.want)
			require.Nil(t, b)
			require.True(t, strings.HasPrefix(err.Error(), "hsm: "), err.Error())
			require.NotContains(t, err.Error(), fx.PIN, "never the PIN")
		})
	}
}

// TestTokenSelection: a token is found by any of its identities.
func TestTokenSelection(t *testing.T) {
	fx := softhsmtest.Token(t)
	tg := direct(t)
	slots, err := hsm.Slots(ctx, tg.module, "")
	require.NoError(t, err)
	i := slices.IndexFunc(slots, func(s hsm.SlotInfo) bool { return s.Label == fx.Label })
	require.GreaterOrEqual(t, i, 0)
	slot := slots[i]
	for name, sel := range map[string]hsm.TokenSelector{
		"label":             {Label: fx.Label},
		"serial":            {Serial: fx.Serial},
		"slot id":           {SlotID: &slot.ID},
		"all of them":       {Label: fx.Label, Serial: fx.Serial, SlotID: &slot.ID, Manufacturer: "SoftHSM project", Model: "SoftHSM v2", SlotDescription: slot.Description},
		"model and serial":  {Model: "SoftHSM v2", Serial: fx.Serial},
		"slot description":  {SlotDescription: slot.Description},
		"manufacturer, too": {Manufacturer: slot.TokenManufacturer, Label: fx.Label},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := tg.config()
			cfg.Token = sel
			b, err := hsm.Open(ctx, cfg)
			require.NoError(t, err)
			require.NoError(t, b.Close())
		})
	}
}

// TestPINHandling: the PIN is asked for when logging in, and its bytes
// are zeroed right after.
func TestPINHandling(t *testing.T) {
	tg := direct(t)
	var given [][]byte
	b := open(t, tg, func(c *hsm.Config) {
		c.PIN = func() ([]byte, error) {
			p := []byte(tg.pin)
			given = append(given, p)
			return p, nil
		}
	})
	require.Len(t, given, 1)
	require.Equal(t, make([]byte, len(tg.pin)), given[0], "the PIN's bytes are zeroed after C_Login")
	_ = b
}

// TestSlots describes the module's slots for `wasihsm slots`.
func TestSlots(t *testing.T) {
	fx := softhsmtest.Token(t)
	tg := direct(t)
	slots, err := hsm.Slots(ctx, tg.module, "")
	require.NoError(t, err)
	i := slices.IndexFunc(slots, func(s hsm.SlotInfo) bool { return s.Label == fx.Label })
	require.GreaterOrEqual(t, i, 0, "%+v", slots)
	s := slots[i]
	assert.True(t, s.TokenPresent)
	assert.Equal(t, fx.Serial, s.Serial)
	assert.Equal(t, "SoftHSM project", s.TokenManufacturer)
	assert.Equal(t, "SoftHSM v2", s.Model)
	assert.Contains(t, s.FlagNames, "login-required")
	assert.Contains(t, s.FlagNames, "token-initialized")
	assert.Equal(t, 0, s.MaxSessions, "SoftHSM2 has no session limit (CK_EFFECTIVELY_INFINITE)")
	b := open(t, tg)
	assert.Equal(t, b.Capabilities(), s.Capabilities)

	_, err = hsm.Slots(ctx, filepath.Join(t.TempDir(), "missing.so"), "")
	require.ErrorIs(t, err, provider.ErrDevice)
}

// TestNoLoginToken: a token without CKF_LOGIN_REQUIRED opens without a
// PIN. p11-kit's trust module is one (it offers certificates, not
// mechanisms, so it supports nothing).
func TestNoLoginToken(t *testing.T) {
	r := remote(t) // p11-kit's modules live next to its client module
	module := filepath.Join(filepath.Dir(r.module), "p11-kit-trust.so")
	if _, err := os.Stat(module); err != nil {
		unavailable(t, "no p11-kit-trust.so next to p11-kit-client.so")
	}
	slots, err := hsm.Slots(ctx, module, "")
	require.NoError(t, err)
	i := slices.IndexFunc(slots, func(s hsm.SlotInfo) bool { return s.TokenPresent })
	if i < 0 {
		unavailable(t, "the trust module has no token")
	}
	require.NotContains(t, slots[i].FlagNames, "login-required")
	id := slots[i].ID
	b, err := hsm.Open(ctx, hsm.Config{Module: module, Token: hsm.TokenSelector{SlotID: &id}})
	require.NoError(t, err)
	defer b.Close()
	for _, c := range b.Capabilities() {
		assert.Equal(t, provider.Unsupported, c.Support, "%s %s", c.Algorithm, c.Operation)
	}
	_, err = b.GenerateKey(ctx, provider.KeyRequest{Algorithm: alg("ES256")})
	require.ErrorIs(t, err, provider.ErrNotSupported)
	_, err = b.OpenManagedKey(ctx, "anything", provider.Guest{Name: "g"})
	require.ErrorIs(t, err, provider.ErrNotFound)
}

// TestClosed: a closed backend and its keys fail; Close is idempotent.
func TestClosed(t *testing.T) {
	tg := direct(t)
	b, err := hsm.Open(ctx, tg.config())
	require.NoError(t, err)
	k := generate(t, b, provider.KeyRequest{Algorithm: alg("HS256")})
	h, err := b.NewHash(ctx, alg("SHA-256"))
	require.NoError(t, err)
	require.NoError(t, b.Close())
	require.NoError(t, b.Close())
	_, err = b.GenerateKey(ctx, provider.KeyRequest{Algorithm: alg("HS256")})
	require.ErrorIs(t, err, provider.ErrDevice)
	_, err = k.(provider.Signer).NewSignState(ctx, 10)
	require.ErrorIs(t, err, provider.ErrDevice)
	require.ErrorIs(t, h.Digest(make([]byte, 32)), provider.ErrDevice)
	require.NoError(t, k.Destroy(ctx), "nothing left to destroy")
}

// TestContextDeadline: an operation whose context has ended does not wait
// for the token.
func TestContextDeadline(t *testing.T) {
	b := open(t, direct(t))
	k := generate(t, b, provider.KeyRequest{Algorithm: alg("A128GCM")}).(provider.AEADKey)
	defer destroy(t, k)
	done, cancel := context.WithTimeout(ctx, 0)
	defer cancel()
	_, err := b.GenerateKey(done, provider.KeyRequest{Algorithm: alg("A128GCM")})
	require.ErrorIs(t, err, provider.ErrTimeout)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	_, err = k.Seal(done, nil, make([]byte, 12), nil, nil)
	require.ErrorIs(t, err, provider.ErrTimeout)
}

// unavailable skips a test for a missing tool, or fails it under CI.
func unavailable(t *testing.T, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: nothing skips)", reason)
	}
	t.Skip(reason)
}

// TestSharedModule: backends (and Slots) that name one module, by any of
// its paths, share one C_Initialize; closing one leaves the others working.
func TestSharedModule(t *testing.T) {
	tg := direct(t)
	resolved, err := filepath.EvalSymlinks(tg.module)
	require.NoError(t, err)
	b1, err := hsm.Open(ctx, tg.config())
	require.NoError(t, err)
	b2 := open(t, tg, func(c *hsm.Config) {
		c.Module = resolved
		c.AllowedModules = []string{tg.module, resolved}
	})
	k := generate(t, b2, provider.KeyRequest{Algorithm: alg("HS256")})
	_, err = hsm.Slots(ctx, tg.module, "")
	require.NoError(t, err)
	require.NoError(t, b1.Close())
	providertest.Sign(t, k, []byte("still initialised"))
	destroy(t, k)
}
