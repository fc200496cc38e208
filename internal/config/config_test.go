package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/wasihost"
)

// env makes a LookupEnv over a fixed map, so that tests never see the
// process environment.
func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func noCacheDir() (string, error) { return "", errors.New("no cache dir in tests") }

func cacheBase() (string, error) { return "/home/u/.cache", nil }

// writeConfig writes a config file into a fresh directory and returns its
// path.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "wasihsm.yaml")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

func load(t *testing.T, flags, environ map[string]string) (Settings, error) {
	t.Helper()
	return Load(Input{Flags: flags, LookupEnv: env(environ), UserCacheDir: cacheBase})
}

func TestDefaults(t *testing.T) {
	s, err := load(t, nil, nil)
	require.NoError(t, err)
	assert.Equal(t, "", s.ConfigFile)
	assert.Equal(t, BackendSoftware, s.Backend)
	assert.True(t, s.BackendImplicit())
	assert.Equal(t, provider.FallbackAllow, s.Fallback)
	assert.Equal(t, PKCS11{}, s.PKCS11)
	assert.Equal(t, Limits{wasihost.DefaultMaxHandles, wasihost.DefaultMaxBufferedBytes}, s.Limits)
	assert.Equal(t, filepath.Join("/home/u/.cache", "wasihsm", "wazero"), s.CacheDir)
	for _, st := range settings {
		assert.Equal(t, Origin{}, s.Origin(st.field), st.field)
	}

	s, err = Load(Input{LookupEnv: env(nil), UserCacheDir: noCacheDir})
	require.NoError(t, err)
	assert.Equal(t, "", s.CacheDir, "no user cache dir: no cache")
}

func TestPrecedence(t *testing.T) {
	file := writeConfig(t, `
backend: software
fallback: deny
pkcs11:
  module: /file/lib.so
  token: file-token
  pin: env:FILE_PIN
limits:
  max_handles: 10
  max_buffered_bytes: 100
cache_dir: /file/cache
`)
	dir := filepath.Dir(file)
	tests := []struct {
		name   string
		flags  map[string]string
		env    map[string]string
		check  func(t *testing.T, s Settings)
		origin map[string]Origin
	}{{
		name: "file only",
		env:  map[string]string{EnvConfig: file},
		check: func(t *testing.T, s Settings) {
			assert.Equal(t, file, s.ConfigFile)
			assert.Equal(t, BackendSoftware, s.Backend)
			assert.False(t, s.BackendImplicit())
			assert.Equal(t, provider.FallbackDeny, s.Fallback)
			assert.Equal(t, "/file/lib.so", s.PKCS11.Module)
			assert.Equal(t, "file-token", s.PKCS11.Token)
			assert.Equal(t, "env:FILE_PIN", s.PKCS11.PIN.String())
			assert.Equal(t, Limits{10, 100}, s.Limits)
			assert.Equal(t, "/file/cache", s.CacheDir)
		},
		origin: map[string]Origin{
			FieldBackend:          {FromFile, file},
			FieldFallback:         {FromFile, file},
			FieldPKCS11Module:     {FromFile, file},
			FieldToken:            {FromFile, file},
			FieldPIN:              {FromFile, file},
			FieldMaxHandles:       {FromFile, file},
			FieldMaxBufferedBytes: {FromFile, file},
			FieldCacheDir:         {FromFile, file},
		},
	}, {
		name: "env beats file",
		env: map[string]string{
			EnvConfig:       file,
			EnvBackend:      "pkcs11",
			EnvFallback:     "public-only",
			EnvPKCS11Module: "/env/lib.so",
			EnvToken:        "env-token",
			EnvPIN:          "1234",
		},
		check: func(t *testing.T, s Settings) {
			assert.Equal(t, BackendPKCS11, s.Backend)
			assert.Equal(t, provider.FallbackPublicOnly, s.Fallback)
			assert.Equal(t, "/env/lib.so", s.PKCS11.Module)
			assert.Equal(t, "env-token", s.PKCS11.Token)
			assert.Equal(t, EnvPIN, s.PKCS11.PIN.String())
			assert.Equal(t, Limits{10, 100}, s.Limits, "no env for limits: the file's")
		},
		origin: map[string]Origin{
			FieldBackend:      {FromEnv, EnvBackend},
			FieldFallback:     {FromEnv, EnvFallback},
			FieldPKCS11Module: {FromEnv, EnvPKCS11Module},
			FieldToken:        {FromEnv, EnvToken},
			FieldPIN:          {FromEnv, EnvPIN},
			FieldMaxHandles:   {FromFile, file},
		},
	}, {
		name: "flag beats env",
		flags: map[string]string{
			"backend":            "software",
			"fallback":           "allow",
			"pkcs11-module":      "/flag/lib.so",
			"token":              "flag-token",
			"max-handles":        "7",
			"max-buffered-bytes": "0x100",
			"cache-dir":          "rel/cache",
		},
		env: map[string]string{
			EnvConfig:       file,
			EnvBackend:      "pkcs11",
			EnvFallback:     "deny",
			EnvPKCS11Module: "/env/lib.so",
			EnvToken:        "env-token",
		},
		check: func(t *testing.T, s Settings) {
			assert.Equal(t, BackendSoftware, s.Backend)
			assert.Equal(t, provider.FallbackAllow, s.Fallback)
			assert.Equal(t, "/flag/lib.so", s.PKCS11.Module)
			assert.Equal(t, "flag-token", s.PKCS11.Token)
			assert.Equal(t, Limits{7, 256}, s.Limits)
			assert.Equal(t, "rel/cache", s.CacheDir, "flag paths are the user's, relative to the working directory")
		},
		origin: map[string]Origin{
			FieldBackend:          {FromFlag, "backend"},
			FieldFallback:         {FromFlag, "fallback"},
			FieldPKCS11Module:     {FromFlag, "pkcs11-module"},
			FieldToken:            {FromFlag, "token"},
			FieldPIN:              {FromFile, file},
			FieldMaxHandles:       {FromFlag, "max-handles"},
			FieldMaxBufferedBytes: {FromFlag, "max-buffered-bytes"},
			FieldCacheDir:         {FromFlag, "cache-dir"},
		},
	}, {
		name:  "--config beats WASIHSM_CONFIG",
		flags: map[string]string{"config": file},
		env:   map[string]string{EnvConfig: filepath.Join(dir, "missing.yaml")},
		check: func(t *testing.T, s Settings) {
			assert.Equal(t, file, s.ConfigFile)
			assert.Equal(t, provider.FallbackDeny, s.Fallback)
		},
	}, {
		name: "empty env is unset",
		env:  map[string]string{EnvConfig: "", EnvBackend: "", EnvFallback: "", EnvPIN: ""},
		check: func(t *testing.T, s Settings) {
			assert.Equal(t, "", s.ConfigFile)
			assert.True(t, s.BackendImplicit())
			assert.False(t, s.PKCS11.PIN.IsSet())
		},
	}, {
		name: "a module makes pkcs11 the default",
		env:  map[string]string{EnvPKCS11Module: "libsofthsm2.so"},
		check: func(t *testing.T, s Settings) {
			assert.Equal(t, BackendPKCS11, s.Backend)
			assert.False(t, s.BackendImplicit())
		},
		origin: map[string]Origin{FieldBackend: {}},
	}, {
		name:  "a token makes pkcs11 the default",
		flags: map[string]string{"token": "pkcs11:token=t"},
		check: func(t *testing.T, s Settings) {
			assert.Equal(t, BackendPKCS11, s.Backend)
			assert.False(t, s.BackendImplicit())
		},
	}, {
		name:  "an explicit backend wins over the module's default",
		flags: map[string]string{"backend": "software", "pkcs11-module": "/lib.so"},
		check: func(t *testing.T, s Settings) {
			assert.Equal(t, BackendSoftware, s.Backend)
			assert.False(t, s.BackendImplicit())
		},
	}, {
		name: "WASIHSM_PIN is the PIN itself",
		env:  map[string]string{EnvPIN: "env:NOT_A_SOURCE"},
		check: func(t *testing.T, s Settings) {
			pin, err := s.PKCS11.PIN.Read(env(nil))
			require.NoError(t, err)
			assert.Equal(t, "env:NOT_A_SOURCE", pin)
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := load(t, tt.flags, tt.env)
			require.NoError(t, err)
			tt.check(t, s)
			for field, want := range tt.origin {
				assert.Equal(t, want, s.Origin(field), field)
			}
		})
	}
}

func TestRelativePathsInFile(t *testing.T) {
	file := writeConfig(t, `
pkcs11:
  module: lib/p11.so
  token: t
  pin: file:secrets/pin
cache_dir: cache
`)
	dir := filepath.Dir(file)
	s, err := load(t, map[string]string{"config": file}, nil)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "lib/p11.so"), s.PKCS11.Module)
	assert.Equal(t, "file:"+filepath.Join(dir, "secrets/pin"), s.PKCS11.PIN.String())
	assert.Equal(t, filepath.Join(dir, "cache"), s.CacheDir)

	file = writeConfig(t, "pkcs11: {module: libsofthsm2.so}\n")
	s, err = load(t, map[string]string{"config": file}, nil)
	require.NoError(t, err)
	assert.Equal(t, "libsofthsm2.so", s.PKCS11.Module, "a bare name is for the dynamic loader")
}

func TestFileForms(t *testing.T) {
	tests := []struct {
		name string
		body string
		want func(t *testing.T, s Settings)
	}{
		{"empty file", "", func(t *testing.T, s Settings) { assert.True(t, s.BackendImplicit()) }},
		{"comments only", "# nothing\n", func(t *testing.T, s Settings) { assert.True(t, s.BackendImplicit()) }},
		{"null fields keep the defaults", "backend:\npkcs11:\nlimits: ~\n", func(t *testing.T, s Settings) {
			assert.True(t, s.BackendImplicit())
		}},
		{"flow style", "{fallback: deny, limits: {max_handles: 3}}", func(t *testing.T, s Settings) {
			assert.Equal(t, provider.FallbackDeny, s.Fallback)
			assert.Equal(t, 3, s.Limits.MaxHandles)
		}},
		{"aliases", "pkcs11: {module: &m /lib.so, token: *m}\n", func(t *testing.T, s Settings) {
			assert.Equal(t, "/lib.so", s.PKCS11.Token)
		}},
		{"numbers as strings", "pkcs11: {token: 1234}\nlimits: {max_handles: \"12\"}\n", func(t *testing.T, s Settings) {
			assert.Equal(t, "1234", s.PKCS11.Token)
			assert.Equal(t, 12, s.Limits.MaxHandles)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := load(t, map[string]string{"config": writeConfig(t, tt.body)}, nil)
			require.NoError(t, err)
			tt.want(t, s)
		})
	}
}

func TestExampleLoads(t *testing.T) {
	p := filepath.Join("..", "..", "wasihsm.example.yaml")
	s, err := load(t, map[string]string{"config": p}, nil)
	require.NoError(t, err)
	assert.Equal(t, BackendPKCS11, s.Backend)
	assert.Equal(t, provider.FallbackPublicOnly, s.Fallback)
	assert.Equal(t, "/usr/lib/softhsm/libsofthsm2.so", s.PKCS11.Module)
	assert.Equal(t, "wasihsm", s.PKCS11.Token)
	assert.Equal(t, "env:WASIHSM_TOKEN_PIN", s.PKCS11.PIN.String())
	assert.Equal(t, Limits{1024, 16 << 20}, s.Limits)
	assert.Equal(t, "/var/cache/wasihsm", s.CacheDir)
	assert.NoError(t, s.CheckPKCS11())

	// The example names every field of the file.
	body, err := os.ReadFile(p)
	require.NoError(t, err)
	for section, fields := range sections {
		for _, f := range fields {
			assert.Contains(t, string(body), "\n"+strings.Repeat("  ", min(len(section), 1))+f+":", "%s.%s", section, f)
		}
	}
}

// TestValidationErrors lists every problem Load reports, with its exact
// message.
func TestValidationErrors(t *testing.T) {
	const file = "$FILE" // replaced by the config file's path
	tests := []struct {
		name  string
		body  string // config file, when not ""
		flags map[string]string
		env   map[string]string
		want  []string
	}{
		// Values, from each kind of source.
		{name: "backend in file", body: "backend: hsm\n",
			want: []string{`config $FILE: backend: "hsm" is not one of software, pkcs11 (line 1)`}},
		{name: "backend in env", env: map[string]string{EnvBackend: "hsm"},
			want: []string{`env WASIHSM_BACKEND: "hsm" is not one of software, pkcs11`}},
		{name: "backend flag", flags: map[string]string{"backend": "Software"},
			want: []string{`flag --backend: "Software" is not one of software, pkcs11`}},
		{name: "fallback in file", body: "\n\nfallback: maybe\n",
			want: []string{`config $FILE: fallback: "maybe" is not one of allow, public-only, deny (line 3)`}},
		{name: "fallback in env", env: map[string]string{EnvFallback: "yes"},
			want: []string{`env WASIHSM_FALLBACK: "yes" is not one of allow, public-only, deny`}},
		{name: "fallback flag", flags: map[string]string{"fallback": "none"},
			want: []string{`flag --fallback: "none" is not one of allow, public-only, deny`}},
		{name: "label too long", env: map[string]string{EnvToken: strings.Repeat("x", 33)},
			want: []string{`env WASIHSM_TOKEN: label "` + strings.Repeat("x", 33) + `" is 33 bytes long; a PKCS#11 token label has at most 32 (or give a pkcs11: URI)`}},
		{name: "URI attribute", body: "pkcs11:\n  token: pkcs11:token\n",
			want: []string{`config $FILE: pkcs11.token: PKCS#11 URI "pkcs11:token": attribute "token" is not name=value (RFC 7512) (line 2)`}},
		{name: "URI escape", flags: map[string]string{"token": "pkcs11:token=a%2;serial=1?pin-source=x%zz"},
			want: []string{`flag --token: PKCS#11 URI "pkcs11:token=a%2;serial=1?pin-source=x%zz": attribute "token=a%2" has a bad %-escape (RFC 7512)`}},
		{name: "URI query escape", flags: map[string]string{"token": "pkcs11:token=a?pin-source=x%zz"},
			want: []string{`flag --token: PKCS#11 URI "pkcs11:token=a?pin-source=x%zz": attribute "pin-source=x%zz" has a bad %-escape (RFC 7512)`}},
		{name: "PIN literal in file", body: "pkcs11: {pin: \"123456\"}\n",
			want: []string{`config $FILE: pkcs11.pin: must name where the PIN is, "env:NAME" or "file:PATH", not hold the PIN itself (line 1)`}},
		{name: "PIN with colon in file", body: "pkcs11: {pin: \"12:34\"}\n",
			want: []string{`config $FILE: pkcs11.pin: must name where the PIN is, "env:NAME" or "file:PATH", not hold the PIN itself (line 1)`}},
		{name: "PIN env name", body: "pkcs11: {pin: \"env:1X\"}\n",
			want: []string{`config $FILE: pkcs11.pin: env: must be followed by the name of an environment variable (letters, digits, _) (line 1)`}},
		{name: "PIN env empty", body: "pkcs11: {pin: \"env:\"}\n",
			want: []string{`config $FILE: pkcs11.pin: env: must be followed by the name of an environment variable (letters, digits, _) (line 1)`}},
		{name: "PIN file empty", body: "pkcs11: {pin: \"file:\"}\n",
			want: []string{`config $FILE: pkcs11.pin: file: must be followed by the path of a file that holds the PIN (line 1)`}},
		{name: "max_handles zero", body: "limits:\n  max_handles: 0\n",
			want: []string{`config $FILE: limits.max_handles: "0" is not a whole number ≥ 1 (line 2)`}},
		{name: "max_handles word", flags: map[string]string{"max-handles": "many"},
			want: []string{`flag --max-handles: "many" is not a whole number ≥ 1`}},
		{name: "max_buffered_bytes negative", body: "limits: {max_buffered_bytes: -1}\n",
			want: []string{`config $FILE: limits.max_buffered_bytes: "-1" is not a whole number ≥ 1 (line 1)`}},
		{name: "max_buffered_bytes float", flags: map[string]string{"max-buffered-bytes": "1e6"},
			want: []string{`flag --max-buffered-bytes: "1e6" is not a whole number ≥ 1`}},
		{name: "empty value in file", body: "cache_dir: \"\"\n",
			want: []string{`config $FILE: cache_dir: empty (line 1)`}},
		{name: "empty flag", flags: map[string]string{"pkcs11-module": ""},
			want: []string{`flag --pkcs11-module: empty`}},
		{name: "empty --config", flags: map[string]string{"config": ""},
			want: []string{`flag --config: empty; want the path of a YAML file`}},
		{name: "not a configuration flag", flags: map[string]string{"pin": "1234"},
			want: []string{`flag --pin: not a configuration flag`}},

		// The file.
		{name: "missing file", env: map[string]string{EnvConfig: "/nonexistent/wasihsm.yaml"},
			want: []string{`config /nonexistent/wasihsm.yaml: cannot read the file named by env WASIHSM_CONFIG: no such file or directory`}},
		{name: "missing file by flag", flags: map[string]string{"config": "/nonexistent/w.yaml"},
			want: []string{`config /nonexistent/w.yaml: cannot read the file named by flag --config: no such file or directory`}},
		{name: "bad YAML", body: "backend: [software\n",
			want: []string{`config $FILE: not valid YAML: line 1: did not find expected ',' or ']'`}},
		{name: "two documents", body: "backend: software\n---\nfallback: deny\n",
			want: []string{`config $FILE: more than one YAML document; want one (line 2)`}},
		{name: "bad YAML in the second document", body: "backend: software\n---\n[\n",
			want: []string{`config $FILE: not valid YAML: line 3: did not find expected node content`}},
		{name: "root not a mapping", body: "- backend\n",
			want: []string{`config $FILE: want a mapping of backend, fallback, pkcs11, limits, cache_dir, not a list (line 1)`}},
		{name: "root a scalar", body: "software\n",
			want: []string{`config $FILE: want a mapping of backend, fallback, pkcs11, limits, cache_dir, not the value "software" (line 1)`}},
		{name: "unknown field", body: "backend: software\nkeys: []\n",
			want: []string{`config $FILE: keys: unknown field; want one of backend, fallback, pkcs11, limits, cache_dir (line 2)`}},
		{name: "unknown nested field", body: "pkcs11:\n  modul: /lib.so\n",
			want: []string{`config $FILE: pkcs11.modul: unknown field; want one of module, token, pin (line 2)`}},
		{name: "field twice", body: "fallback: deny\nfallback: allow\n",
			want: []string{`config $FILE: fallback: given twice; the first is on line 1 (line 2)`}},
		{name: "section not a mapping", body: "pkcs11: /lib.so\n",
			want: []string{`config $FILE: pkcs11: want a mapping of module, token, pin, not the value "/lib.so" (line 1)`}},
		{name: "value a list", body: "limits:\n  max_handles: [1, 2]\n",
			want: []string{`config $FILE: limits.max_handles: want a single value, not a list (line 2)`}},
		{name: "value a mapping", body: "backend: {name: software}\n",
			want: []string{`config $FILE: backend: want a single value, not a mapping (line 1)`}},
		{name: "problems in line order", body: "pkcs11:\n  pin: \"1234\"\n  tokn: t\nfallback: maybe\n",
			want: []string{
				`config $FILE: pkcs11.pin: must name where the PIN is, "env:NAME" or "file:PATH", not hold the PIN itself (line 2)`,
				`config $FILE: pkcs11.tokn: unknown field; want one of module, token, pin (line 3)`,
				`config $FILE: fallback: "maybe" is not one of allow, public-only, deny (line 4)`,
			}},
		{name: "field name not a word", body: "? [a]\n: b\n",
			want: []string{`config $FILE: a field name must be a plain word, not a list (line 1)`}},

		// Several at once, each layer validated even when overridden.
		{name: "every problem, in order",
			body:  "fallback: maybe\nlimits: {max_handles: x}\n",
			env:   map[string]string{EnvFallback: "deny", EnvBackend: "tpm"},
			flags: map[string]string{"max-handles": "5", "fallback": "no"},
			want: []string{
				`config $FILE: fallback: "maybe" is not one of allow, public-only, deny (line 1)`,
				`config $FILE: limits.max_handles: "x" is not a whole number ≥ 1 (line 2)`,
				`env WASIHSM_BACKEND: "tpm" is not one of software, pkcs11`,
				`flag --fallback: "no" is not one of allow, public-only, deny`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			flags := map[string]string{}
			for k, v := range tt.flags {
				flags[k] = v
			}
			var path string
			if tt.body != "" {
				path = writeConfig(t, tt.body)
				flags["config"] = path
			}
			_, err := load(t, flags, tt.env)
			require.Error(t, err)
			var got []string
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				var fe *FieldError
				require.ErrorAs(t, e, &fe)
				got = append(got, fe.Error())
			}
			var want []string
			for _, w := range tt.want {
				want = append(want, strings.ReplaceAll(w, file, path))
			}
			assert.Equal(t, want, got)
			assert.Equal(t, strings.Join(want, "\n"), err.Error())
		})
	}
}

func TestCheckPKCS11(t *testing.T) {
	s, err := load(t, map[string]string{"backend": "pkcs11"}, nil)
	require.NoError(t, err)
	err = s.CheckPKCS11()
	require.Error(t, err)
	assert.Equal(t, strings.Join([]string{
		`pkcs11.module: required with backend pkcs11; set --pkcs11-module, WASIHSM_PKCS11_MODULE or pkcs11.module in the config file`,
		`pkcs11.token: required with backend pkcs11; set --token, WASIHSM_TOKEN or pkcs11.token in the config file`,
		`pkcs11.pin: required with backend pkcs11; set WASIHSM_PIN or pkcs11.pin in the config file`,
	}, "\n"), err.Error())

	s, err = load(t, map[string]string{"pkcs11-module": "/lib.so", "token": "t"}, map[string]string{EnvPIN: "1"})
	require.NoError(t, err)
	assert.NoError(t, s.CheckPKCS11())
}

func TestPINRead(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	tests := []struct {
		name    string
		src     PINSource
		env     map[string]string
		want    string
		wantErr string
	}{
		{name: "literal", src: PINSource{kind: pinLiteral, ref: "0000"}, want: "0000"},
		{name: "env", src: PINSource{kind: pinEnv, ref: "P"}, env: map[string]string{"P": "4321"}, want: "4321"},
		{name: "file", src: PINSource{kind: pinFile, ref: write("pin", "5678\r\nignored\n")}, want: "5678"},
		{name: "file without newline", src: PINSource{kind: pinFile, ref: write("pin2", "99")}, want: "99"},
		{name: "none", src: PINSource{},
			wantErr: "config: pkcs11.pin: no PIN source; set WASIHSM_PIN or pkcs11.pin in the config file"},
		{name: "env unset", src: PINSource{kind: pinEnv, ref: "P"},
			wantErr: "config: pkcs11.pin: env:P: the environment variable P is not set"},
		{name: "env empty", src: PINSource{kind: pinEnv, ref: "P"}, env: map[string]string{"P": ""},
			wantErr: "config: pkcs11.pin: env:P: the PIN is empty"},
		{name: "file missing", src: PINSource{kind: pinFile, ref: "/nonexistent/pin"},
			wantErr: "config: pkcs11.pin: file:/nonexistent/pin: no such file or directory"},
		{name: "file empty", src: PINSource{kind: pinFile, ref: write("empty", "\nsecond line\n")},
			wantErr: "config: pkcs11.pin: file:" + filepath.Join(dir, "empty") + ": the PIN is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pin, err := tt.src.Read(env(tt.env))
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, pin)
		})
	}
}

// TestPINNeverShown formats settings holding a PIN in every way a log line
// or an error might.
func TestPINNeverShown(t *testing.T) {
	const pin = "31415926"
	s, err := load(t, nil, map[string]string{EnvPIN: pin, EnvToken: "t", EnvPKCS11Module: "/lib.so"})
	require.NoError(t, err)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
		for _, v := range []any{s, s.PKCS11, s.PKCS11.PIN, &s} {
			out := fmt.Sprintf(verb, v)
			assert.NotContains(t, out, pin, "%s of %T", verb, v)
			assert.NotContains(t, out, fmt.Sprintf("%x", pin), "%s of %T", verb, v)
		}
	}
	assert.Equal(t, "WASIHSM_PIN", s.PKCS11.PIN.String())
	assert.Equal(t, `config.PINSource("WASIHSM_PIN")`, fmt.Sprintf("%#v", s.PKCS11.PIN))

	// A PIN written into the file by mistake is not quoted back.
	p := writeConfig(t, "pkcs11:\n  pin: "+pin+"\n")
	_, err = load(t, map[string]string{"config": p}, nil)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), pin)
	p = writeConfig(t, "pkcs11:\n  pin: x:"+pin+"\n")
	_, err = load(t, map[string]string{"config": p}, nil)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), pin)
}

func TestAddFlags(t *testing.T) {
	fs := flagSet()
	f := AddFlags(fs)
	require.NoError(t, fs.Parse([]string{"--backend", "software", "--max-handles=9", "--config", "c.yaml", "module.wasm", "--token", "x"}))
	assert.Equal(t, map[string]string{"backend": "software", "max-handles": "9", "config": "c.yaml"}, f.Values())
	assert.Equal(t, []string{"module.wasm", "--token", "x"}, fs.Args())

	// Every setting with a flag has one, and there is no PIN flag.
	for _, st := range settings {
		if st.flag != "" {
			assert.NotNil(t, fs.Lookup(st.flag), st.flag)
		}
	}
	assert.Nil(t, fs.Lookup("pin"))
}
