package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/internal/config"
	"github.com/wasihsm/wasihsm/provider"
)

func TestParseGuest(t *testing.T) {
	hash := strings.Repeat("Ab", 32)
	// A path (a value with a slash) is granted by the file's SHA-256.
	dir := t.TempDir()
	wasm := []byte("\x00asm\x01\x00\x00\x00")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "g.wasm"), wasm, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "g.txt"), []byte("not wasm"), 0o644))
	sum := sha256.Sum256(wasm)
	for _, tc := range []struct {
		in      string
		want    config.KeyGuest
		wantErr string
	}{
		{"jws.wasm", config.KeyGuest{Module: "jws.wasm"}, ""},
		{"sha256:" + hash, config.KeyGuest{SHA256: strings.ToLower(hash)}, ""},
		{"sha256:abc", config.KeyGuest{}, "64 hex digits"},
		{"sha256:" + strings.Repeat("zz", 32), config.KeyGuest{}, "64 hex digits"},
		{filepath.Join(dir, "g.wasm"), config.KeyGuest{SHA256: hex.EncodeToString(sum[:])}, ""},
		{filepath.Join(dir, "g.txt"), config.KeyGuest{}, "not a WebAssembly module"},
		{"build/jws.wasm", config.KeyGuest{}, "no such file or directory"},
		{`build\jws.wasm`, config.KeyGuest{}, "want a module name"},
		{"", config.KeyGuest{}, "want a module name"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseGuest(tc.in)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// loadStanza parses a grant as `run` would, in a file with a token.
func loadStanza(t *testing.T, stanza string) (config.Settings, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "wasihsm.yaml")
	require.NoError(t, os.WriteFile(path, []byte("pkcs11:\n  module: /x/lib.so\n  token: t\n"+stanza), 0o600))
	return config.Load(config.Input{
		Flags:     map[string]string{"config": path},
		LookupEnv: func(string) (string, bool) { return "", false },
	})
}

// TestGrantStanza: what keys prints is what internal/config reads back.
func TestGrantStanza(t *testing.T) {
	k := hsm.TokenKey{Label: "jws signer: #1", ID: []byte{0x01, 0xa2}, Class: "private", Algorithms: []string{"ES256"}}
	f := &keysFlags{name: "signer", guests: []config.KeyGuest{{Module: "jws.wasm"}, {SHA256: strings.Repeat("0f", 32)}}, operations: "sign"}
	stanza, err := grantStanza(k, "ES256", f)
	require.NoError(t, err)
	s, err := loadStanza(t, stanza)
	require.NoError(t, err, stanza)
	mk, ok := s.ManagedKey("signer")
	require.True(t, ok)
	assert.Equal(t, config.ManagedKey{
		Name: "signer", Label: k.Label, ID: k.ID, Algorithm: provider.MustLookup("ES256"),
		Guests: f.guests, Operations: []provider.Operation{provider.OpSign},
	}, mk)

	for _, tc := range []struct {
		name  string
		alg   string
		flags keysFlags
		want  string
	}{
		{"an algorithm the key does not serve", "ES384", keysFlags{}, `the key serves ES256, not "ES384"`},
		{"an operation of another kind", "ES256", keysFlags{operations: "encrypt"}, `"encrypt" does not apply to ES256 keys`},
		{"a label that is no name", "ES256", keysFlags{}, "give --name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.flags.guests = f.guests
			_, err := grantStanza(k, tc.alg, &tc.flags)
			require.ErrorContains(t, err, tc.want)
		})
	}

	aes := hsm.TokenKey{Label: "box", Class: "secret", Algorithms: []string{"A256GCM"}}
	_, err = grantStanza(aes, "A256GCM", &keysFlags{guests: f.guests, operations: "encrypt"})
	require.ErrorIs(t, err, config.ErrEncryptWithoutDecrypt, "the stanza would not load")
}

// FuzzGrantStanza: for any label and name that grantStanza accepts, the
// configuration reads back that label and name.
func FuzzGrantStanza(f *testing.F) {
	for _, seed := range []string{"jws-signer", "a b", `"quoted"`, "key: value", "- item", "#hash", "ünïcode", "null", "0x10", "'"} {
		f.Add(seed, "name")
	}
	f.Fuzz(func(t *testing.T, label, name string) {
		k := hsm.TokenKey{Label: label, ID: []byte{1}, Class: "secret", Algorithms: []string{"A256GCM"}}
		stanza, err := grantStanza(k, "A256GCM", &keysFlags{name: name, guests: []config.KeyGuest{{Module: "g.wasm"}}})
		if err != nil {
			return
		}
		if !utf8.ValidString(label) || strings.ContainsFunc(label, unicode.IsControl) {
			t.Fatalf("accepted label %q", label)
		}
		s, err := loadStanza(t, stanza)
		require.NoError(t, err, stanza)
		want := name
		if want == "" {
			want = label
		}
		mk, ok := s.ManagedKey(want)
		require.True(t, ok, "name %q in\n%s", want, stanza)
		assert.Equal(t, label, mk.Label)
	})
}
