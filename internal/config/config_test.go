package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/spec"
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
	assert.Equal(t, PKCS11{SessionWait: 5 * time.Second, CallTimeout: 5 * time.Second}, s.PKCS11)
	assert.False(t, s.PKCS11.Selector.IsSet())
	assert.Nil(t, s.Keys)
	assert.Equal(t, Limits{spec.DefaultMaxHandles, spec.DefaultMaxBufferedBytes, DefaultMaxMemoryBytes, spec.DefaultMaxInstanceBytes}, s.Limits)
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
  max_memory_bytes: 65537
  max_instance_bytes: 200_000
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
			assert.Equal(t, Limits{10, 100, 65537, 200000}, s.Limits)
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
			FieldMaxInstanceBytes: {FromFile, file},
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
			assert.Equal(t, Limits{10, 100, 65537, 200000}, s.Limits, "no env for limits: the file's")
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
			"max-memory-bytes":   "1_048_576",
			"max-instance-bytes": "0x10000",
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
			assert.Equal(t, Limits{7, 256, 1 << 20, 1 << 16}, s.Limits)
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
			FieldMaxInstanceBytes: {FromFlag, "max-instance-bytes"},
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
			assert.Equal(t, "env:NOT_A_SOURCE", string(pin))
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
	assert.Equal(t, []string{"/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so"}, s.PKCS11.AllowedModules)
	assert.Equal(t, "wasihsm", s.PKCS11.Token)
	assert.Equal(t, "pkcs11:token=wasihsm", s.PKCS11.Selector.String())
	assert.Equal(t, "env:WASIHSM_TOKEN_PIN", s.PKCS11.PIN.String())
	assert.Equal(t, 5*time.Second, s.PKCS11.SessionWait)
	assert.Equal(t, 5*time.Second, s.PKCS11.CallTimeout)
	assert.Equal(t, 0, s.PKCS11.MaxSessions)
	assert.Equal(t, Limits{1024, 16 << 20, 1 << 30, 64 << 20}, s.Limits)
	assert.Equal(t, "/var/cache/wasihsm", s.CacheDir)
	assert.Equal(t, []ManagedKey{{
		Name:       "jws-signer",
		Label:      "jws-signer",
		ID:         []byte{0x01, 0xa2},
		Algorithm:  provider.MustLookup("ES256"),
		Guests:     []KeyGuest{{Module: "jws.wasm"}, {SHA256: strings.Repeat("0", 64)}},
		Operations: []provider.Operation{provider.OpSign, provider.OpExportPublic},
	}}, s.Keys)
	assert.NoError(t, s.CheckPKCS11())

	// The example names every field of the file, some in comments (as
	// alternatives).
	body, err := os.ReadFile(p)
	require.NoError(t, err)
	mentions := func(indent, f string) {
		t.Helper()
		assert.Regexp(t, "\n"+indent+"(# )?"+regexp.QuoteMeta(f)+":", string(body), "%q", f)
	}
	for section, fields := range sections {
		for _, f := range fields {
			mentions(strings.Repeat("  ", min(len(section), 1)), f)
		}
	}
	mentions("  ", "- "+keyFields[0])
	for _, f := range keyFields[1:] {
		mentions("    ", f)
	}
	for _, f := range guestFields {
		mentions("      ", "- "+f)
	}
}

// TestValidationErrors lists every problem Load reports, with its exact
// message.
func TestValidationErrors(t *testing.T) {
	const file = "$FILE" // replaced by the config file's path
	// key is a valid managed key, on lines 3 to 6 when keys: is on line 2.
	const key = "  - name: k\n    label: l\n    algorithm: ES256\n    guests: [module: g]\n"
	keyed := "A128GCM, A192GCM, A256GCM, ES256, ES384, ES512, EdDSA, PS256, PS384, PS512, RS256, RS384, RS512, " +
		"HS256, HS384, HS512, ECDH-P256, ECDH-P384, X25519"
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
			want: []string{`config $FILE: pkcs11.token: not a valid PKCS#11 URI: token: has no value; write token=VALUE (line 2)`}},
		{name: "URI escape", flags: map[string]string{"token": "pkcs11:token=a%2;serial=1?pin-source=x%zz"},
			want: []string{`flag --token: not a valid PKCS#11 URI: token: "a%2": has a bad %-escape; want % and two hex digits (%25 for % itself)`}},
		{name: "URI query escape", flags: map[string]string{"token": "pkcs11:token=a?pin-source=x%zz"},
			want: []string{`flag --token: not a valid PKCS#11 URI: pin-source: "x%zz": has a bad %-escape; want % and two hex digits (%25 for % itself)`}},
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
		{name: "max_memory_bytes beyond wasm32", body: "limits:\n  max_memory_bytes: 0x100000001\n",
			want: []string{`config $FILE: limits.max_memory_bytes: "0x100000001" is more than a wasm32 memory can hold (4294967296) (line 2)`}},
		{name: "max_memory_bytes zero", flags: map[string]string{"max-memory-bytes": "0"},
			want: []string{`flag --max-memory-bytes: "0" is not a whole number ≥ 1`}},
		{name: "max_handles word", flags: map[string]string{"max-handles": "many"},
			want: []string{`flag --max-handles: "many" is not a whole number ≥ 1`}},
		{name: "max_buffered_bytes negative", body: "limits: {max_buffered_bytes: -1}\n",
			want: []string{`config $FILE: limits.max_buffered_bytes: "-1" is not a whole number ≥ 1 (line 1)`}},
		{name: "max_buffered_bytes float", flags: map[string]string{"max-buffered-bytes": "1e6"},
			want: []string{`flag --max-buffered-bytes: "1e6" is not a whole number ≥ 1`}},
		{name: "max_instance_bytes zero", body: "limits: {max_instance_bytes: 0}\n",
			want: []string{`config $FILE: limits.max_instance_bytes: "0" is not a whole number ≥ 1 (line 1)`}},
		{name: "max_instance_bytes a word", flags: map[string]string{"max-instance-bytes": "lots"},
			want: []string{`flag --max-instance-bytes: "lots" is not a whole number ≥ 1`}},
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
			want: []string{`config $FILE: want a mapping of backend, fallback, pkcs11, limits, cache_dir, keys, log, metrics, not a list (line 1)`}},
		{name: "root a scalar", body: "software\n",
			want: []string{`config $FILE: want a mapping of backend, fallback, pkcs11, limits, cache_dir, keys, log, metrics, not the value "software" (line 1)`}},
		{name: "unknown field", body: "backend: software\nkey: []\n",
			want: []string{`config $FILE: key: unknown field; want one of backend, fallback, pkcs11, limits, cache_dir, keys, log, metrics (line 2)`}},
		{name: "unknown nested field", body: "pkcs11:\n  modul: /lib.so\n",
			want: []string{`config $FILE: pkcs11.modul: unknown field; want one of module, init_args, allowed_modules, token, serial, slot_id, pin, session_wait, call_timeout, max_sessions, tokens, policy (line 2)`}},
		{name: "field twice", body: "fallback: deny\nfallback: allow\n",
			want: []string{`config $FILE: fallback: given twice; the first is on line 1 (line 2)`}},
		{name: "section not a mapping", body: "pkcs11: /lib.so\n",
			want: []string{`config $FILE: pkcs11: want a mapping of module, init_args, allowed_modules, token, serial, slot_id, pin, session_wait, call_timeout, max_sessions, tokens, policy, not the value "/lib.so" (line 1)`}},
		{name: "value a list", body: "limits:\n  max_handles: [1, 2]\n",
			want: []string{`config $FILE: limits.max_handles: want a single value, not a list (line 2)`}},
		{name: "value a mapping", body: "backend: {name: software}\n",
			want: []string{`config $FILE: backend: want a single value, not a mapping (line 1)`}},
		{name: "problems in line order", body: "pkcs11:\n  pin: \"1234\"\n  tokn: t\nfallback: maybe\n",
			want: []string{
				`config $FILE: pkcs11.pin: must name where the PIN is, "env:NAME" or "file:PATH", not hold the PIN itself (line 2)`,
				`config $FILE: pkcs11.tokn: unknown field; want one of module, init_args, allowed_modules, token, serial, slot_id, pin, session_wait, call_timeout, max_sessions, tokens, policy (line 3)`,
				`config $FILE: fallback: "maybe" is not one of allow, public-only, deny (line 4)`,
			}},
		{name: "field name not a word", body: "? [a]\n: b\n",
			want: []string{`config $FILE: a field name must be a plain word, not a list (line 1)`}},

		// The token URI: what selects a token, and its query.
		{name: "URI names an object", body: "pkcs11:\n  token: pkcs11:token=t;object=k\n",
			want: []string{`config $FILE: pkcs11.token: the URI's object= names an object, but pkcs11.token selects a token; name managed keys under keys: (line 2)`}},
		{name: "URI names an object id", flags: map[string]string{"token": "pkcs11:token=t;id=%01"},
			want: []string{`flag --token: the URI's id= names an object, but pkcs11.token selects a token; name managed keys under keys:`}},
		{name: "URI names an object type", env: map[string]string{EnvToken: "pkcs11:token=t;type=private"},
			want: []string{`env WASIHSM_TOKEN: the URI's type= names a kind of object, but pkcs11.token selects a token; leave it out`}},
		{name: "URI vendor attribute", flags: map[string]string{"token": "pkcs11:token=t;x-slot=3;x-a=1"},
			want: []string{`flag --token: the URI's x-a= is a vendor-specific attribute that wasihsm does not know; with it the URI would match no token (RFC 7512)`}},
		{name: "URI label too long", flags: map[string]string{"token": "pkcs11:token=" + strings.Repeat("x", 33)},
			want: []string{`flag --token: the URI's token= is 33 bytes long; the PKCS#11 field has at most 32, so no token would match`}},
		{name: "URI serial too long", flags: map[string]string{"token": "pkcs11:serial=" + strings.Repeat("1", 17)},
			want: []string{`flag --token: the URI's serial= is 17 bytes long; the PKCS#11 field has at most 16, so no token would match`}},
		{name: "URI model too long", flags: map[string]string{"token": "pkcs11:model=" + strings.Repeat("m", 17)},
			want: []string{`flag --token: the URI's model= is 17 bytes long; the PKCS#11 field has at most 16, so no token would match`}},
		{name: "URI selects nothing", flags: map[string]string{"token": "pkcs11:?pin-source=file:/p"},
			want: []string{`flag --token: the URI selects no particular token; add token=LABEL, serial=NUMBER or slot-id=ID to its path (or set pkcs11.serial or pkcs11.slot_id)`}},
		{name: "URI selects nothing in the file", body: "pkcs11:\n  token: 'pkcs11:'\n",
			want: []string{`config $FILE: pkcs11.token: the URI selects no particular token; add token=LABEL, serial=NUMBER or slot-id=ID to its path (or set pkcs11.serial or pkcs11.slot_id) (line 2)`}},
		{name: "URI with pin-source and pin-value", flags: map[string]string{"token": "pkcs11:token=t?pin-source=file:/p&pin-value=1234"},
			want: []string{`flag --token: the URI has both pin-source and pin-value; keep one`}},
		{name: "URI pin-source runs a program", flags: map[string]string{"token": "pkcs11:token=t?pin-source=|/usr/bin/getpin"},
			want: []string{`flag --token: the URI's pin-source "|/usr/bin/getpin" runs a program, which wasihsm does not do; use file:PATH or env:NAME`}},
		{name: "URI pin-source env name", flags: map[string]string{"token": "pkcs11:token=t?pin-source=env:1X"},
			want: []string{`flag --token: the URI's pin-source "env:1X": env: must be followed by the name of an environment variable (letters, digits, _)`}},
		{name: "URI pin-source scheme", flags: map[string]string{"token": "pkcs11:token=t?pin-source=https://vault/pin"},
			want: []string{`flag --token: the URI's pin-source "https://vault/pin": want file:PATH, a path, or env:NAME`}},
		{name: "URI pin-source host", flags: map[string]string{"token": "pkcs11:token=t?pin-source=file://vault/pin"},
			want: []string{`flag --token: the URI's pin-source "file://vault/pin" names host "vault"; want a local file, file:/PATH`}},
		{name: "URI pin-source no file", flags: map[string]string{"token": "pkcs11:token=t?pin-source=file:"},
			want: []string{`flag --token: the URI's pin-source "file:" names no file; want file:PATH`}},
		{name: "URI pin-source empty", flags: map[string]string{"token": "pkcs11:token=t?pin-source="},
			want: []string{`flag --token: the URI's pin-source= is empty; want file:PATH or env:NAME`}},
		{name: "URI module-path empty", flags: map[string]string{"token": "pkcs11:token=t?module-path="},
			want: []string{`flag --token: the URI's module-path= is empty; want the path of the PKCS#11 module`}},
		{name: "URI module-path not allowed", flags: map[string]string{"token": "pkcs11:token=t?module-path=/x.so"},
			want: []string{`flag --token: the URI's module-path "/x.so" is not an allowed module; list it in pkcs11.allowed_modules in the config file, or set it as pkcs11.module`}},
		{name: "URI module-path not in the list", body: "pkcs11:\n  allowed_modules: [/a.so, b.so]\n  token: pkcs11:token=t?module-path=/x.so\n",
			want: []string{`config $FILE: pkcs11.token: the URI's module-path "/x.so" is not in pkcs11.allowed_modules (/a.so, b.so); add it there, or use one of those (line 3)`}},
		{name: "URI module-path differs", flags: map[string]string{"pkcs11-module": "/a.so", "token": "pkcs11:token=t?module-path=/b.so"},
			want: []string{`flag --token: the URI's module-path "/b.so" differs from pkcs11.module "/a.so" (from flag --pkcs11-module); give the module in one place`}},
		{name: "URI module-name without a module", flags: map[string]string{"token": "pkcs11:token=t?module-name=softhsm2"},
			want: []string{`flag --token: the URI's module-name "softhsm2" does not say where the module is; set pkcs11.module (or the URI's module-path) too`}},
		{name: "URI module-name differs", flags: map[string]string{"pkcs11-module": "/usr/lib/softhsm/libsofthsm2.so", "token": "pkcs11:token=t?module-name=opensc-pkcs11"},
			want: []string{`flag --token: the URI's module-name "opensc-pkcs11" does not match the module /usr/lib/softhsm/libsofthsm2.so; want "softhsm2" (its file name without lib and suffix)`}},
		{name: "URI PIN and pkcs11.pin", body: "pkcs11:\n  pin: env:P\n  token: pkcs11:token=t?pin-source=env:Q\n",
			want: []string{`config $FILE: pkcs11.token: the URI's pin-source and pkcs11.pin both give the PIN; keep one (line 3)`}},
		{name: "URI PIN and WASIHSM_PIN", env: map[string]string{EnvToken: "pkcs11:token=t?pin-value=1", EnvPIN: "2"},
			want: []string{`env WASIHSM_TOKEN: the URI's pin-value and WASIHSM_PIN both give the PIN; keep one`}},
		{name: "URI serial and pkcs11.serial", body: "pkcs11:\n  token: pkcs11:serial=1\n  serial: '1'\n",
			want: []string{`config $FILE: pkcs11.serial: pkcs11.serial and the serial= of the pkcs11.token URI both give the serial number; give it in one place (line 3)`}},
		{name: "pkcs11.serial and URI serial", body: "pkcs11:\n  serial: '1'\n  token: pkcs11:serial=1\n",
			want: []string{`config $FILE: pkcs11.token: the URI's serial= and pkcs11.serial both give the serial number; give it in one place (line 3)`}},
		{name: "URI slot-id and pkcs11.slot_id", body: "pkcs11:\n  token: pkcs11:slot-id=1\n  slot_id: 1\n",
			want: []string{`config $FILE: pkcs11.slot_id: pkcs11.slot_id and the slot-id= of the pkcs11.token URI both give the slot; give it in one place (line 3)`}},
		{name: "pkcs11.slot_id and URI slot-id", body: "pkcs11:\n  slot_id: 1\n  token: pkcs11:slot-id=1\n",
			want: []string{`config $FILE: pkcs11.token: the URI's slot-id= and pkcs11.slot_id both give the slot; give it in one place (line 3)`}},

		// The other PKCS#11 settings.
		{name: "serial too long", body: "pkcs11:\n  serial: '12345678901234567'\n",
			want: []string{`config $FILE: pkcs11.serial: "12345678901234567" is 17 bytes long; a PKCS#11 token serial number has at most 16 (line 2)`}},
		{name: "slot_id word", body: "pkcs11: {slot_id: first}\n",
			want: []string{`config $FILE: pkcs11.slot_id: "first" is not a slot id; want a whole number ≥ 0 (decimal, or hex as 0x…) (line 1)`}},
		{name: "slot_id negative", body: "pkcs11: {slot_id: -1}\n",
			want: []string{`config $FILE: pkcs11.slot_id: "-1" is not a slot id; want a whole number ≥ 0 (decimal, or hex as 0x…) (line 1)`}},
		{name: "session_wait without unit", body: "pkcs11: {session_wait: 5}\n",
			want: []string{`config $FILE: pkcs11.session_wait: "5" is not a positive duration; want a number with a unit, such as 5s or 500ms (line 1)`}},
		{name: "session_wait zero", body: "pkcs11: {session_wait: 0s}\n",
			want: []string{`config $FILE: pkcs11.session_wait: "0s" is not a positive duration; want a number with a unit, such as 5s or 500ms (line 1)`}},
		{name: "session_wait negative", body: "pkcs11: {session_wait: -1s}\n",
			want: []string{`config $FILE: pkcs11.session_wait: "-1s" is not a positive duration; want a number with a unit, such as 5s or 500ms (line 1)`}},
		{name: "call_timeout without unit", body: "pkcs11: {call_timeout: 5}\n",
			want: []string{`config $FILE: pkcs11.call_timeout: "5" is not a positive duration; want a number with a unit, such as 5s or 500ms (line 1)`}},
		{name: "call_timeout zero", body: "pkcs11: {call_timeout: 0s}\n",
			want: []string{`config $FILE: pkcs11.call_timeout: "0s" is not a positive duration; want a number with a unit, such as 5s or 500ms (line 1)`}},
		{name: "inline_calls, which the file no longer has", body: "pkcs11: {inline_calls: true}\n",
			want: []string{`config $FILE: pkcs11.inline_calls: unknown field; want one of module, init_args, allowed_modules, token, serial, slot_id, pin, session_wait, call_timeout, max_sessions, tokens, policy (line 1)`}},
		{name: "max_sessions negative", body: "pkcs11: {max_sessions: -1}\n",
			want: []string{`config $FILE: pkcs11.max_sessions: "-1" is not a whole number ≥ 0 (0: as many as the token allows) (line 1)`}},
		{name: "max_sessions word", body: "pkcs11: {max_sessions: all}\n",
			want: []string{`config $FILE: pkcs11.max_sessions: "all" is not a whole number ≥ 0 (0: as many as the token allows) (line 1)`}},
		{name: "allowed_modules not a list", body: "pkcs11:\n  allowed_modules: /lib.so\n",
			want: []string{`config $FILE: pkcs11.allowed_modules: want a list of module paths, not the value "/lib.so" (line 2)`}},
		{name: "allowed_modules empty", body: "pkcs11:\n  allowed_modules: []\n",
			want: []string{`config $FILE: pkcs11.allowed_modules: empty list; list the modules that may be loaded, or leave the field out to allow just pkcs11.module (line 2)`}},
		{name: "allowed_modules items", body: "pkcs11:\n  allowed_modules:\n    - ''\n    - [a]\n",
			want: []string{
				`config $FILE: pkcs11.allowed_modules[0]: empty (line 3)`,
				`config $FILE: pkcs11.allowed_modules[1]: want a single value, not a list (line 4)`,
			}},
		{name: "module not allowed", body: "pkcs11:\n  module: /a.so\n  allowed_modules: [/b.so]\n",
			want: []string{`config $FILE: pkcs11.module: "/a.so" is not in pkcs11.allowed_modules (/b.so); add it there, or use one of those`}},
		{name: "module from env not allowed", body: "pkcs11:\n  allowed_modules: [/a.so]\n", env: map[string]string{EnvPKCS11Module: "/tmp/evil.so"},
			want: []string{`env WASIHSM_PKCS11_MODULE: "/tmp/evil.so" is not in pkcs11.allowed_modules (/a.so); add it there, or use one of those`}},

		// Managed keys.
		{name: "keys need backend pkcs11", body: "backend: software\nkeys:\n" + key,
			want: []string{`config $FILE: keys: managed keys need backend pkcs11, not software (from config $FILE) (line 2)`}},
		{name: "keys need backend pkcs11 (flag)", body: "backend: pkcs11\nkeys:\n" + key, flags: map[string]string{"backend": "software"},
			want: []string{`config $FILE: keys: managed keys need backend pkcs11, not software (from flag --backend) (line 2)`}},
		{name: "keys need a token", body: "keys:\n" + key,
			want: []string{`config $FILE: keys: managed keys need backend pkcs11; configure the token (pkcs11.module, pkcs11.token) or set backend: pkcs11 (line 1)`}},
		{name: "keys not a list", body: "keys: {name: k}\n",
			want: []string{`config $FILE: keys: want a list of managed keys (each a mapping of name, label, id, algorithm, guests, operations), not a mapping (line 1)`}},
		{name: "keys empty", body: "keys: []\n",
			want: []string{`config $FILE: keys: empty list; list the managed keys, or leave the field out (line 1)`}},
		{name: "key not a mapping", body: "backend: pkcs11\nkeys:\n  - jws-signer\n  -\n",
			want: []string{
				`config $FILE: keys[0]: want a mapping of name, label, id, algorithm, guests, operations, not the value "jws-signer" (line 3)`,
				`config $FILE: keys[1]: want a mapping of name, label, id, algorithm, guests, operations, not nothing (line 4)`,
			}},
		{name: "key unknown field", body: "backend: pkcs11\nkeys:\n" + key + "    lable: x\n",
			want: []string{`config $FILE: keys[0].lable: unknown field; want one of name, label, id, algorithm, guests, operations (line 7)`}},
		{name: "key field twice", body: "backend: pkcs11\nkeys:\n" + key + "    name: k2\n",
			want: []string{`config $FILE: keys[0].name: given twice; the first is on line 3 (line 7)`}},
		{name: "key field a list", body: "backend: pkcs11\nkeys:\n  - {name: [a], label: l, algorithm: ES256, guests: [module: g]}\n",
			want: []string{`config $FILE: keys[0].name: want a single value, not a list (line 3)`}},
		{name: "key without name", body: "backend: pkcs11\nkeys:\n  - {label: l, algorithm: ES256, guests: [module: g]}\n",
			want: []string{`config $FILE: keys[0].name: required: the name that guests pass to private_key_open (line 3)`}},
		{name: "key name empty", body: "backend: pkcs11\nkeys:\n  - {name: '', label: l, algorithm: ES256, guests: [module: g]}\n",
			want: []string{`config $FILE: keys[0].name: empty (line 3)`}},
		{name: "key name with a space", body: "backend: pkcs11\nkeys:\n  - {name: 'my key', label: l, algorithm: ES256, guests: [module: g]}\n",
			want: []string{`config $FILE: keys[0].name: "my key" has a space or a control character; want a name without them, such as jws-signer (line 3)`}},
		{name: "key name twice", body: "backend: pkcs11\nkeys:\n" + key + key,
			want: []string{`config $FILE: keys[1].name: "k" is already the name of keys[0] (line 3); each managed key needs its own name (line 7)`}},
		{name: "key without label or id", body: "backend: pkcs11\nkeys:\n  - {name: k, algorithm: ES256, guests: [module: g]}\n",
			want: []string{`config $FILE: keys[0]: needs label or id (or both): the CKA_LABEL or CKA_ID of the key on the token (line 3)`}},
		{name: "key id not hex", body: "backend: pkcs11\nkeys:\n  - {name: k, id: 0x01, algorithm: ES256, guests: [module: g]}\n",
			want: []string{`config $FILE: keys[0].id: "0x01" is not hex; want the CKA_ID as an even number of hex digits, such as 01a2 (line 3)`}},
		{name: "key id odd", body: "backend: pkcs11\nkeys:\n  - {name: k, id: 123, algorithm: ES256, guests: [module: g]}\n",
			want: []string{`config $FILE: keys[0].id: "123" is not hex; want the CKA_ID as an even number of hex digits, such as 01a2 (line 3)`}},
		{name: "key label empty", body: "backend: pkcs11\nkeys:\n  - {name: k, label: '', id: '01', algorithm: ES256, guests: [module: g]}\n",
			want: []string{`config $FILE: keys[0].label: empty (line 3)`}},
		{name: "key without algorithm", body: "backend: pkcs11\nkeys:\n  - {name: k, label: l, guests: [module: g]}\n",
			want: []string{`config $FILE: keys[0].algorithm: required: the key's algorithm, one of ` + keyed + ` (line 3)`}},
		{name: "key algorithm unknown", body: "backend: pkcs11\nkeys:\n  - {name: k, label: l, algorithm: P-256, guests: [module: g]}\n",
			want: []string{`config $FILE: keys[0].algorithm: "P-256" is not an algorithm; want one of ` + keyed + ` (line 3)`}},
		{name: "key algorithm case", body: "backend: pkcs11\nkeys:\n  - {name: k, label: l, algorithm: es256, guests: [module: g]}\n",
			want: []string{`config $FILE: keys[0].algorithm: "es256" is not an algorithm; names are case-sensitive: ES256 (line 3)`}},
		{name: "key algorithm a hash", body: "backend: pkcs11\nkeys:\n  - {name: k, label: l, algorithm: SHA-256, guests: [module: g]}\n",
			want: []string{`config $FILE: keys[0].algorithm: "SHA-256" is a hash, which takes no key; want one of ` + keyed + ` (line 3)`}},
		{name: "key algorithm an XOF", body: "backend: pkcs11\nkeys:\n  - {name: k, label: l, algorithm: SHAKE128, guests: [module: g]}\n",
			want: []string{`config $FILE: keys[0].algorithm: "SHAKE128" is an extendable-output function, which takes no key; want one of ` + keyed + ` (line 3)`}},
		{name: "key algorithm HKDF", body: "backend: pkcs11\nkeys:\n  - {name: k, label: l, algorithm: HKDF, guests: [module: g]}\n",
			want: []string{`config $FILE: keys[0].algorithm: "HKDF" keys are made by guests from input keying material (HKDF-Extract) and cannot be managed; want one of ` + keyed + ` (line 3)`}},
		{name: "key without guests", body: "backend: pkcs11\nkeys:\n  - {name: k, label: l, algorithm: ES256}\n",
			want: []string{`config $FILE: keys[0].guests: required: at least one guest that may open the key (module: NAME or sha256: HEX) (line 3)`}},
		{name: "key guests empty", body: "backend: pkcs11\nkeys:\n  - {name: k, label: l, algorithm: ES256, guests: []}\n",
			want: []string{`config $FILE: keys[0].guests: empty list; name at least one guest that may open the key (line 3)`}},
		{name: "key guests not a list", body: "backend: pkcs11\nkeys:\n  - {name: k, label: l, algorithm: ES256, guests: jws.wasm}\n",
			want: []string{`config $FILE: keys[0].guests: want a list of guests (each module: NAME or sha256: HEX), not the value "jws.wasm" (line 3)`}},
		{name: "key guest forms", body: "backend: pkcs11\nkeys:\n  - name: k\n    label: l\n    algorithm: ES256\n    guests:\n" +
			"      - {module: a.wasm, sha256: " + strings.Repeat("a", 64) + "}\n" +
			"      - {}\n" +
			"      - module: bin/a.wasm\n" +
			"      - sha256: abc\n" +
			"      - sha256: " + strings.Repeat("g", 64) + "\n" +
			"      - module: ''\n",
			want: []string{
				`config $FILE: keys[0].guests[0]: want module or sha256 in each guest, not both; list them as two guests (line 7)`,
				`config $FILE: keys[0].guests[1]: want module: NAME or sha256: HEX (line 8)`,
				`config $FILE: keys[0].guests[2].module: "bin/a.wasm" is a path; a guest's module name is the base name of its wasm file, such as jws.wasm (line 9)`,
				`config $FILE: keys[0].guests[3].sha256: "abc" is not a SHA-256; want the 64 hex digits of the wasm file's SHA-256 (sha256sum FILE) (line 10)`,
				`config $FILE: keys[0].guests[4].sha256: "` + strings.Repeat("g", 64) + `" is not a SHA-256; want the 64 hex digits of the wasm file's SHA-256 (sha256sum FILE) (line 11)`,
				`config $FILE: keys[0].guests[5].module: empty (line 12)`,
			}},
		{name: "key guest unknown field", body: "backend: pkcs11\nkeys:\n  - {name: k, label: l, algorithm: ES256, guests: [{name: a.wasm}]}\n",
			want: []string{`config $FILE: keys[0].guests[0].name: unknown field; want one of module, sha256 (line 3)`}},
		{name: "key operations", body: "backend: pkcs11\nkeys:\n  - name: k\n    label: l\n    algorithm: ES256\n    guests: [module: g]\n" +
			"    operations: [sign, verify, encrypt, sign, '']\n",
			want: []string{
				`config $FILE: keys[0].operations[1]: "verify" is not an operation of a managed key; want one of sign, encrypt, decrypt, derive, export-public (line 7)`,
				`config $FILE: keys[0].operations[2]: "encrypt" does not apply to ES256 (a signature key); want sign or export-public (line 7)`,
				`config $FILE: keys[0].operations[3]: "sign" is listed twice (line 7)`,
				`config $FILE: keys[0].operations[4]: empty (line 7)`,
			}},
		{name: "key operations of an AEAD key", body: "backend: pkcs11\nkeys:\n  - {name: k, label: l, algorithm: A256GCM, guests: [module: g], operations: [sign]}\n",
			want: []string{`config $FILE: keys[0].operations[0]: "sign" does not apply to A256GCM (an aead key); want encrypt or decrypt (line 3)`}},
		{name: "AEAD key encrypt without decrypt", body: "backend: pkcs11\nkeys:\n  - name: k\n    label: l\n    algorithm: A256GCM\n    guests: [module: g]\n" +
			"    operations: [encrypt]\n",
			want: []string{`config $FILE: keys[0].operations: allows encrypt without decrypt, but for A256GCM (AES-GCM) an encrypt grant is a decrypt grant too: ` +
				`encrypting zeros under a nonce of its choosing gives a guest the keystream of that nonce, which reads whatever was encrypted under it; ` +
				`allow encrypt and decrypt, or decrypt alone (line 7)`}},
		{name: "AEAD key encrypt without decrypt, among other problems", body: "backend: pkcs11\nkeys:\n  - {name: k, label: l, algorithm: A128GCM, guests: [module: g], operations: [encrypt, sign]}\n",
			want: []string{
				`config $FILE: keys[0].operations[1]: "sign" does not apply to A128GCM (an aead key); want encrypt or decrypt (line 3)`,
				`config $FILE: keys[0].operations: allows encrypt without decrypt, but for A128GCM (AES-GCM) an encrypt grant is a decrypt grant too: ` +
					`encrypting zeros under a nonce of its choosing gives a guest the keystream of that nonce, which reads whatever was encrypted under it; ` +
					`allow encrypt and decrypt, or decrypt alone (line 3)`,
			}},
		{name: "same label, other guests", body: "backend: pkcs11\nkeys:\n" + key +
			"  - {name: k2, label: l, algorithm: ES256, guests: [module: h]}\n",
			want: []string{`config $FILE: keys[1]: names the same token object as keys[0] (line 3), label "l", but grants other guests or operations; ` +
				`give each token object one grant: merge the two into one item (line 7)`}},
		{name: "same id, other operations", body: "backend: pkcs11\nkeys:\n" +
			"  - {name: a, id: 01A2, algorithm: A256GCM, guests: [module: g]}\n" +
			"  - {name: b, id: 01a2, algorithm: A256GCM, guests: [module: g], operations: [decrypt]}\n",
			want: []string{`config $FILE: keys[1]: names the same token object as keys[0] (line 3), id 01a2, but grants other guests or operations; ` +
				`give each token object one grant: merge the two into one item (line 4)`}},
		{name: "label alone and label with id", body: "backend: pkcs11\nkeys:\n" +
			"  - {name: a, label: l, id: '01', algorithm: ES256, guests: [module: g]}\n" +
			"  - {name: b, label: l, algorithm: ES256, guests: [module: g, module: h]}\n" +
			"  - {name: c, id: '01', algorithm: ES256, guests: [module: g], operations: [sign]}\n",
			want: []string{
				`config $FILE: keys[1]: names the same token object as keys[0] (line 3), label "l", but grants other guests or operations; ` +
					`give each token object one grant: merge the two into one item (line 4)`,
				`config $FILE: keys[2]: names the same token object as keys[0] (line 3), id 01, but grants other guests or operations; ` +
					`give each token object one grant: merge the two into one item (line 5)`,
			}},
		{name: "same label and id, other guests", body: "backend: pkcs11\nkeys:\n" +
			"  - {name: a, label: l, id: '01', algorithm: ES256, guests: [sha256: " + strings.Repeat("ab", 32) + "]}\n" +
			"  - {name: b, label: l, id: '01', algorithm: ES256, guests: [module: g]}\n",
			want: []string{`config $FILE: keys[1]: names the same token object as keys[0] (line 3), label "l" and id 01, but grants other guests or operations; ` +
				`give each token object one grant: merge the two into one item (line 4)`}},
		{name: "key operations empty", body: "backend: pkcs11\nkeys:\n  - {name: k, label: l, algorithm: ES256, guests: [module: g], operations: []}\n",
			want: []string{`config $FILE: keys[0].operations: empty list; leave the field out to allow every operation of the key's algorithm (line 3)`}},
		{name: "key operation not a word", body: "backend: pkcs11\nkeys:\n  - {name: k, label: l, algorithm: ES256, guests: [module: g], operations: [{sign: true}]}\n",
			want: []string{`config $FILE: keys[0].operations[0]: want a single value, not a mapping (line 3)`}},
		{name: "every problem of a key", body: "backend: pkcs11\nkeys:\n  - {name: a b, id: xy, algorithm: HS-256}\n",
			want: []string{
				`config $FILE: keys[0].name: "a b" has a space or a control character; want a name without them, such as jws-signer (line 3)`,
				`config $FILE: keys[0].id: "xy" is not hex; want the CKA_ID as an even number of hex digits, such as 01a2 (line 3)`,
				`config $FILE: keys[0].algorithm: "HS-256" is not an algorithm; want one of ` + keyed + ` (line 3)`,
				`config $FILE: keys[0].guests: required: at least one guest that may open the key (module: NAME or sha256: HEX) (line 3)`,
			}},

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
		`pkcs11.token: required with backend pkcs11; set --token, WASIHSM_TOKEN or pkcs11.token (or pkcs11.serial, pkcs11.slot_id) in the config file`,
	}, "\n"), err.Error())

	// No PIN is needed: a token may need no login.
	s, err = load(t, map[string]string{"pkcs11-module": "/lib.so", "token": "t"}, nil)
	require.NoError(t, err)
	assert.NoError(t, s.CheckPKCS11())
	assert.False(t, s.PKCS11.PIN.IsSet())

	// A serial or a slot id selects a token too; so does a URI, and its
	// module-path gives the module.
	for _, body := range []string{
		"pkcs11: {module: /lib.so, serial: '1234'}",
		"pkcs11: {module: /lib.so, slot_id: 0}",
		"pkcs11: {allowed_modules: [/lib.so], token: 'pkcs11:model=SoftHSM%20v2?module-path=/lib.so'}",
	} {
		s, err = load(t, map[string]string{"config": writeConfig(t, body)}, nil)
		require.NoError(t, err, body)
		assert.NoError(t, s.CheckPKCS11(), body)
		assert.Equal(t, BackendPKCS11, s.Backend, body)
	}
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
			assert.Equal(t, tt.want, string(pin))
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

func TestMemoryLimitPages(t *testing.T) {
	for _, tc := range []struct {
		bytes int
		pages uint32
	}{{1, 1}, {65536, 1}, {65537, 2}, {DefaultMaxMemoryBytes, 16384}, {1 << 32, 65536}} {
		assert.Equal(t, tc.pages, Limits{MaxMemoryBytes: tc.bytes}.MemoryLimitPages(), tc.bytes)
	}
}
