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
		{"locked PIN", withPIN, answer(pkcs11.CKR_PIN_LOCKED, "CKR_PIN_LOCKED"), "the user PIN is locked"},
		{"no user PIN", withPIN, answer(pkcs11.CKR_USER_PIN_NOT_INITIALIZED, "CKR_USER_PIN_NOT_INITIALIZED"), "has no user PIN yet"},
		{"no PIN source", noPIN, answer(pkcs11.CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN"), "requires a login: set pkcs11.pin"},
		{"PIN unreadable", withPIN, readErr, "make file:" + filepath.Join(dir, "missing-pin") + " readable"},
		{"a message naming a CK_RV", withPIN, errors.New("hsm: login: CKR_PIN_LOCKED: read the PIN"), "check the token's state"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Contains(t, loginFix(tc.s, tc.err), tc.want)
		})
	}
}

// TestBackendFix: a managed key entry that hsm refuses is told by its
// type, not by its message.
func TestBackendFix(t *testing.T) {
	mke := fmt.Errorf("backend: %w", &hsm.ManagedKeyError{Index: 0, Name: "agree", Field: "Algorithm", Problem: "X25519 keys on a token are not supported"})
	assert.Equal(t, "correct or remove that entry of keys: in the configuration", backendFix(mke))
	assert.Contains(t, backendFix(fmt.Errorf("hsm: %w", provider.ErrNoResources)), "2 sessions or more")
	assert.Contains(t, backendFix(errors.New("hsm: config: ManagedKeys[0]")), "run opens the backend the same way")
}
