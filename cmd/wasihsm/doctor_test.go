package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/internal/config"
	"github.com/wasihsm/wasihsm/provider"
)

// TestLoginFix: doctor's advice on a failed login follows the token's
// answer (hsm.TokenError) and errPINRead, never the words of a message.
func TestLoginFix(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "wasihsm.yaml")
	require.NoError(t, os.WriteFile(path, []byte("pkcs11:\n  module: /x/lib.so\n  token: t\n  pin: file:missing-pin\n"), 0o600))
	noEnv := func(string) (string, bool) { return "", false }
	withPIN, err := config.Load(config.Input{Flags: map[string]string{"config": path}, LookupEnv: noEnv})
	require.NoError(t, err)
	noPIN, err := config.Load(config.Input{Flags: map[string]string{"pkcs11-module": "/x/lib.so", "token": "t"}, LookupEnv: noEnv})
	require.NoError(t, err)
	require.False(t, noPIN.PKCS11.PIN.IsSet())

	// The PIN function that the backend calls, as hsm wraps its failure.
	cfg, err := hsmConfig(withPIN, noEnv)
	require.NoError(t, err)
	_, readErr := cfg.PIN()
	require.Error(t, readErr)
	readErr = fmt.Errorf("hsm: login: read the PIN: %w: %w", provider.ErrAccessDenied, readErr)

	answer := func(code uint, name string) error {
		return fmt.Errorf("keys: %w", &hsm.TokenError{Op: "login", Code: code, Name: name, Err: provider.ErrAccessDenied})
	}
	for _, tc := range []struct {
		name string
		s    config.Settings
		err  error
		want string
	}{
		{"wrong PIN", withPIN, answer(pkcs11.CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT"), "is not the token's user PIN"},
		{"a PIN where no login is needed", withPIN, answer(pkcs11.CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT"), "remove pkcs11.pin"},
		{"locked PIN", withPIN, answer(pkcs11.CKR_PIN_LOCKED, "CKR_PIN_LOCKED"), "the user PIN is locked"},
		{"no user PIN", withPIN, answer(pkcs11.CKR_USER_PIN_NOT_INITIALIZED, "CKR_USER_PIN_NOT_INITIALIZED"), "has no user PIN yet"},
		{"no PIN source", noPIN, answer(pkcs11.CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN"), "requires a login: set pkcs11.pin"},
		{"PIN unreadable", withPIN, readErr, "make file:" + filepath.Join(dir, "missing-pin") + " readable"},
		{"a message naming a CK_RV", withPIN, errors.New("hsm: login: CKR_PIN_LOCKED: read the PIN"), "check the token's state"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Contains(t, loginFix(tc.s, tc.err, tc.name != "a PIN where no login is needed"), tc.want)
		})
	}
}

// TestBackendFix: doctor's advice on a backend that does not open follows
// the error's type and the token's answer (a managed key entry hsm
// refuses, a token out of sessions) and names the fix for that cause,
// never the words of a message.
func TestBackendFix(t *testing.T) {
	var oneSession, anySessions config.Settings
	oneSession.PKCS11.MaxSessions = 1
	small := hsm.SlotInfo{MaxSessions: 1}
	busy := hsm.SlotInfo{MaxSessions: 8, Sessions: 8}
	mke := fmt.Errorf("backend: %w", &hsm.ManagedKeyError{Index: 0, Name: "agree", Field: "Algorithm", Problem: "X25519 keys on a token are not supported"})
	full := fmt.Errorf("open: %w", &hsm.TokenError{Op: "open session", Code: pkcs11.CKR_SESSION_COUNT, Name: "CKR_SESSION_COUNT", Err: provider.ErrNoResources})
	for _, tc := range []struct {
		name string
		s    config.Settings
		slot hsm.SlotInfo
		err  error
		want string
	}{
		{"managed key entry", anySessions, busy, mke, "correct or remove that entry of keys: in the configuration"},
		{"max_sessions 1", oneSession, busy, fmt.Errorf("hsm: %w", provider.ErrNoResources), "set pkcs11.max_sessions to 2 or more"},
		{"token allows 1", anySessions, small, fmt.Errorf("hsm: %w", provider.ErrNoResources), "the token allows 1: raise the token's own session limit"},
		{"sessions held by others", anySessions, busy, full, "(8 open of at most 8): other programs hold them"},
		{"token memory", anySessions, busy, fmt.Errorf("hsm: %w", provider.ErrNoResources), "short of memory or sessions"},
		{"no answer", anySessions, busy, fmt.Errorf("hsm: %w", provider.ErrTimeout), "raise pkcs11.call_timeout"},
		{"a message naming a cause", anySessions, busy, errors.New("hsm: config: ManagedKeys[0]: CKR_SESSION_COUNT"), "run opens the backend the same way"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Contains(t, backendFix(tc.s, tc.slot, tc.err), tc.want)
		})
	}
}

// TestModuleFix: a module that loads but refuses C_Initialize's arguments
// is told about pkcs11.init_args; one that does not load, to check the file.
func TestModuleFix(t *testing.T) {
	var s, withArgs config.Settings
	s.PKCS11.Module = "/usr/lib/x86_64-linux-gnu/libsoftokn3.so"
	withArgs.PKCS11 = s.PKCS11
	withArgs.PKCS11.InitArgs = "configdir='sql:/nonexistent'"
	refused := fmt.Errorf("slots: %w", &hsm.TokenError{Op: "initialize module", Code: pkcs11.CKR_ARGUMENTS_BAD, Name: "CKR_ARGUMENTS_BAD", Err: provider.ErrInvalidArgument})
	assert.Contains(t, moduleFix(s, refused), "it may need pkcs11.init_args")
	assert.Contains(t, moduleFix(withArgs, refused), "the module refused pkcs11.init_args")
	assert.Contains(t, moduleFix(s, fmt.Errorf("hsm: load module: %w", provider.ErrDevice)), "check that "+s.PKCS11.Module+" exists")
}
