package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckMounts(t *testing.T) {
	top := t.TempDir()
	for _, d := range []string{"etc/wasihsm", "tokens/t1", "other"} {
		require.NoError(t, os.MkdirAll(filepath.Join(top, d), 0o755))
	}
	require.NoError(t, os.WriteFile(filepath.Join(top, "etc/wasihsm/pin"), []byte("1234"), 0o600))
	require.NoError(t, os.Symlink(filepath.Join(top, "etc"), filepath.Join(top, "link")))
	secrets := []secretPath{
		{what: "the PIN file", path: filepath.Join(top, "etc/wasihsm/pin")},
		{what: "the token directory", path: filepath.Join(top, "tokens"), dir: true},
		{what: "the cache", path: filepath.Join(top, "cache/not/yet"), dir: true},
	}
	tests := []struct {
		host string // under top
		want bool   // refused
	}{
		{host: "etc/wasihsm", want: true},  // the file's directory
		{host: "etc", want: true},          // an ancestor
		{host: ".", want: true},            // holds everything
		{host: "link/wasihsm", want: true}, // through a link
		{host: "tokens", want: true},       // the directory itself
		{host: "tokens/t1", want: true},    // inside it
		{host: "other", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			m := mount{spec: tt.host, host: filepath.Join(top, tt.host), guest: "/x"}
			err := checkMounts([]mount{m}, secrets)
			if tt.want {
				assert.ErrorIs(t, err, errMountExposes)
			} else {
				assert.NoError(t, err)
			}
		})
	}
	// A secret that does not exist yet is compared by the part that does.
	require.NoError(t, os.MkdirAll(filepath.Join(top, "cache"), 0o755))
	err := checkMounts([]mount{{spec: "cache", host: filepath.Join(top, "cache"), guest: "/c"}}, secrets)
	assert.ErrorIs(t, err, errMountExposes)
}

func TestSoftHSMTokenDir(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		return p
	}
	conf := write("softhsm2.conf", "# directories.tokendir = /commented\n  directories.tokendir = /srv/tokens  \nlog.level = ERROR\n")
	bare := write("bare.conf", "log.level = ERROR\n")
	home := filepath.Join(dir, "home")
	user := write("home/"+softHSMUserConf, "directories.tokendir = /home/tokens\n")
	tests := []struct {
		name     string
		env      map[string]string
		wantDir  string
		wantConf string
		wantOK   bool
	}{
		{name: "SOFTHSM2_CONF", env: map[string]string{"SOFTHSM2_CONF": conf, "HOME": home}, wantDir: "/srv/tokens", wantConf: conf, wantOK: true},
		{name: "no tokendir", env: map[string]string{"SOFTHSM2_CONF": bare}, wantDir: softHSMDefaultTokenDir, wantConf: bare, wantOK: true},
		{name: "user file", env: map[string]string{"HOME": home}, wantDir: "/home/tokens", wantConf: user, wantOK: true},
		{name: "unreadable", env: map[string]string{"SOFTHSM2_CONF": filepath.Join(dir, "missing.conf")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, from, ok := softHSMTokenDir(func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.wantDir, got)
			assert.Equal(t, tt.wantConf, from)
		})
	}
}
