package main

import (
	"flag"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/internal/rootfs"
)

// TestUsageNamesEveryFlag keeps the usage text in step with the flags.
func TestUsageNamesEveryFlag(t *testing.T) {
	fs := newRunFlagSet(&runFlags{}, nil)
	fs.VisitAll(func(f *flag.Flag) {
		assert.Regexp(t, regexp.MustCompile(`(?m)^  --`+regexp.QuoteMeta(f.Name)+`\b`), usage, "flag --%s", f.Name)
	})
	for _, line := range strings.Split(usage, "\n") {
		if name, ok := strings.CutPrefix(line, "  --"); ok {
			name, _, _ = strings.Cut(name, " ")
			assert.NotNil(t, fs.Lookup(name), "usage names --%s, which is no flag", name)
		}
	}
}

func TestParseMount(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		in      string
		want    mount
		wantErr string
	}{
		{in: dir + ":/data", want: mount{dir + ":/data", dir, "/data", rootfs.ReadWrite}},
		{in: dir, want: mount{dir, dir, dir, rootfs.ReadWrite}},
		{in: dir + ":/data:ro", want: mount{dir + ":/data:ro", dir, "/data", rootfs.ReadOnly}},
		{in: dir + ":/data:rw", want: mount{dir + ":/data:rw", dir, "/data", rootfs.ReadWrite}},
		{in: dir + ":/a:b", want: mount{dir + ":/a:b", dir, "/a:b", rootfs.ReadWrite}},
		{in: dir + ":", wantErr: `"` + dir + `:": empty GUEST path after ':'; want HOST[:GUEST[:ro]]`},
		{in: dir + "::ro", wantErr: `"` + dir + `::ro": empty GUEST path after ':'; want HOST[:GUEST[:ro]]`},
		{in: ":/data", wantErr: `":/data": empty HOST path; want HOST[:GUEST[:ro]]`},
		{in: "/nonexistent:/x", wantErr: "/nonexistent: no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseMount(tt.in)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseEnv(t *testing.T) {
	host := func(k string) (string, bool) {
		if k == "SET" {
			return "host", true
		}
		return "", false
	}
	tests := []struct {
		in      string
		want    envVar
		wantOK  bool
		wantErr string
	}{
		{in: "A=1", want: envVar{"A", "1"}, wantOK: true},
		{in: "A=", want: envVar{"A", ""}, wantOK: true},
		{in: "A=b=c", want: envVar{"A", "b=c"}, wantOK: true},
		{in: "SET", want: envVar{"SET", "host"}, wantOK: true},
		{in: "UNSET", want: envVar{"UNSET", ""}, wantOK: false},
		{in: "=x", wantErr: `"=x": empty NAME; want NAME=VALUE or NAME`},
		{in: "A=\x00", wantErr: `"A": contains a NUL byte`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok, err := parseEnv(tt.in, host)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.wantOK, ok)
		})
	}
}

func TestVersionLine(t *testing.T) {
	assert.Regexp(t, `^wasihsm \S+ \(go1\.\S+ \S+/\S+, wazero \S+\)$`, versionLine())
}
