package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPINReadWipe: every Read gives a slice of its own, so the caller
// wiping it after a login (as the hsm backend does) neither leaves the PIN
// behind in the slice nor breaks the next login, which reads it again.
func TestPINReadWipe(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pin")
	require.NoError(t, os.WriteFile(file, []byte("8642\nrest\n"), 0o600))
	tests := []struct {
		name string
		src  PINSource
		env  map[string]string
		want string
	}{
		{name: "literal", src: PINSource{kind: pinLiteral, ref: "1111"}, want: "1111"},
		{name: "uri pin-value", src: PINSource{kind: pinURIValue, ref: "2222"}, want: "2222"},
		{name: "env", src: PINSource{kind: pinEnv, ref: "P"}, env: map[string]string{"P": "3333"}, want: "3333"},
		{name: "file", src: PINSource{kind: pinFile, ref: file}, want: "8642"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first, err := tt.src.Read(env(tt.env))
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(first))
			Wipe(first)
			assert.Equal(t, make([]byte, len(tt.want)), first, "Wipe leaves zeros")
			second, err := tt.src.Read(env(tt.env))
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(second), "a wiped PIN does not change the next Read")
		})
	}
}

// TestPINFile: File names the file only for a source that reads one.
func TestPINFile(t *testing.T) {
	tests := []struct {
		name     string
		src      PINSource
		wantPath string
		wantOK   bool
	}{
		{name: "none", src: PINSource{}},
		{name: "literal", src: PINSource{kind: pinLiteral, ref: "1111"}},
		{name: "uri pin-value", src: PINSource{kind: pinURIValue, ref: "2222"}},
		{name: "env", src: PINSource{kind: pinEnv, ref: "P"}},
		{name: "file", src: PINSource{kind: pinFile, ref: "/run/pin"}, wantPath: "/run/pin", wantOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, ok := tt.src.File()
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.wantPath, path)
		})
	}
}
