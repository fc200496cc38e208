package config

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/internal/pkcs11uri"
	"github.com/wasihsm/wasihsm/internal/trusted"
	"github.com/wasihsm/wasihsm/provider"
)

// writeConfigMode writes a config file with the given permissions.
func writeConfigMode(t *testing.T, body string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "wasihsm.yaml")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	require.NoError(t, os.Chmod(p, mode)) // not subject to the umask
	return p
}

func TestTokenSelection(t *testing.T) {
	type want struct {
		token    string
		selector string
		label    string // "-" for none
		serial   string // "-" for none
		slot     int    // -1 for none
		module   string
		pin      string
	}
	tests := []struct {
		name  string
		body  string
		flags map[string]string
		env   map[string]string
		want  want
	}{{
		name: "label",
		env:  map[string]string{EnvToken: "wasihsm"},
		want: want{token: "wasihsm", selector: "pkcs11:token=wasihsm", label: "wasihsm", serial: "-", slot: -1},
	}, {
		name: "label with blanks and a percent sign",
		env:  map[string]string{EnvToken: "My token 100%"},
		want: want{token: "My token 100%", selector: "pkcs11:token=My%20token%20100%25", label: "My token 100%", serial: "-", slot: -1},
	}, {
		name:  "URI",
		flags: map[string]string{"token": "PKCS11:token=My%20token;serial=1a2b;slot-id=7;model=SoftHSM%20v2"},
		want: want{token: "pkcs11:token=My%20token;serial=1a2b;model=SoftHSM%20v2;slot-id=7",
			selector: "pkcs11:token=My%20token;serial=1a2b;model=SoftHSM%20v2;slot-id=7",
			label:    "My token", serial: "1a2b", slot: 7},
	}, {
		name: "serial and slot id in the file",
		body: "pkcs11:\n  serial: '0042'\n  slot_id: 0x10\n",
		want: want{selector: "pkcs11:serial=0042;slot-id=16", label: "-", serial: "0042", slot: 16},
	}, {
		name: "label, serial and slot id together",
		body: "pkcs11:\n  token: wasihsm\n  serial: '42'\n  slot_id: 0\n",
		want: want{token: "wasihsm", selector: "pkcs11:token=wasihsm;serial=42;slot-id=0", label: "wasihsm", serial: "42", slot: 0},
	}, {
		name: "URI refined by the serial field",
		body: "pkcs11:\n  serial: '42'\n  token: pkcs11:token=wasihsm?pin-source=env:TOKEN_PIN\n",
		want: want{token: "pkcs11:token=wasihsm?pin-source=env:TOKEN_PIN", selector: "pkcs11:token=wasihsm;serial=42",
			label: "wasihsm", serial: "42", slot: -1, pin: "env:TOKEN_PIN"},
	}, {
		name: "a URI with only a query, and the serial field",
		body: "pkcs11:\n  allowed_modules: [/m.so]\n  token: pkcs11:?module-path=/m.so&pin-source=env:P\n  serial: '42'\n",
		want: want{token: "pkcs11:?pin-source=env:P&module-path=/m.so", selector: "pkcs11:serial=42",
			label: "-", serial: "42", slot: -1, module: "/m.so", pin: "env:P"},
	}, {
		name: "library and slot attributes select too",
		env:  map[string]string{EnvToken: "pkcs11:library-manufacturer=SoftHSM;slot-description=s?x-ignored=1"},
		want: want{token: "pkcs11:library-manufacturer=SoftHSM;slot-description=s?x-ignored=1",
			selector: "pkcs11:library-manufacturer=SoftHSM;slot-description=s", label: "-", serial: "-", slot: -1},
	}, {
		name: "pin-value is redacted in Token",
		env:  map[string]string{EnvToken: "pkcs11:token=t?pin-value=8642"},
		want: want{token: "pkcs11:token=t?pin-value=***", selector: "pkcs11:token=t", label: "t", serial: "-", slot: -1,
			pin: "pkcs11.token pin-value"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			flags := map[string]string{}
			for k, v := range tt.flags {
				flags[k] = v
			}
			if tt.body != "" {
				flags["config"] = writeConfig(t, tt.body)
			}
			s, err := load(t, flags, tt.env)
			require.NoError(t, err)
			p := s.PKCS11
			assert.Equal(t, tt.want.token, p.Token)
			assert.True(t, p.Selector.IsSet())
			assert.Equal(t, tt.want.selector, p.Selector.String())
			assert.Equal(t, tt.want.selector, p.Selector.URI().String())
			label, ok := p.Selector.Label()
			assert.Equal(t, tt.want.label, map[bool]string{true: label, false: "-"}[ok])
			serial, ok := p.Selector.Serial()
			assert.Equal(t, tt.want.serial, map[bool]string{true: serial, false: "-"}[ok])
			slot, ok := p.Selector.SlotID()
			if tt.want.slot < 0 {
				assert.False(t, ok)
			} else {
				assert.Equal(t, uint(tt.want.slot), slot)
			}
			assert.Equal(t, tt.want.module, p.Module)
			assert.Equal(t, tt.want.pin, p.PIN.String())
			assert.Equal(t, BackendPKCS11, s.Backend)
			assert.False(t, s.BackendImplicit())
		})
	}
}

func TestSelectorMatches(t *testing.T) {
	s, err := load(t, map[string]string{"config": writeConfig(t, "pkcs11:\n  token: pkcs11:token=wasihsm;library-version=2.6\n  slot_id: 3\n")}, nil)
	require.NoError(t, err)
	sel := s.PKCS11.Selector
	assert.True(t, sel.MatchesLibrary(pkcs11uri.LibraryInfo{Version: pkcs11uri.Version{Major: 2, Minor: 6}}))
	assert.False(t, sel.MatchesLibrary(pkcs11uri.LibraryInfo{Version: pkcs11uri.Version{Major: 2, Minor: 5}}))
	assert.True(t, sel.MatchesSlot(pkcs11uri.SlotInfo{ID: 3}))
	assert.False(t, sel.MatchesSlot(pkcs11uri.SlotInfo{ID: 4}))
	assert.True(t, sel.MatchesToken(pkcs11uri.TokenInfo{Label: "wasihsm   "}))
	assert.False(t, sel.MatchesToken(pkcs11uri.TokenInfo{Label: "other"}))

	// The selector is immutable: URI gives a copy.
	u := sel.URI()
	*u.Token = "changed"
	label, _ := sel.Label()
	assert.Equal(t, "wasihsm", label)

	// The zero selector selects nothing.
	var zero TokenSelector
	assert.False(t, zero.IsSet())
	assert.Nil(t, zero.URI())
	assert.Equal(t, "", zero.String())
	assert.False(t, zero.MatchesLibrary(pkcs11uri.LibraryInfo{}))
	assert.False(t, zero.MatchesSlot(pkcs11uri.SlotInfo{}))
	assert.False(t, zero.MatchesToken(pkcs11uri.TokenInfo{}))
}

// TestTokenPrecedence: the token selection (pkcs11.token, pkcs11.serial,
// pkcs11.slot_id) comes whole from the highest source that gives any of
// it, and a URI's query counts where the URI was given.
func TestTokenPrecedence(t *testing.T) {
	file := writeConfig(t, `
pkcs11:
  module: /file/lib.so
  allowed_modules: [/file/lib.so, /env/lib.so, rel/lib.so]
  token: pkcs11:token=file-token?pin-source=file:pin.txt
  serial: "1111"
`)
	dir := filepath.Dir(file)
	tests := []struct {
		name     string
		flags    map[string]string
		env      map[string]string
		selector string
		token    string
		module   string
		pin      string
		origins  map[string]Origin
	}{{
		name:     "the file's URI, serial and PIN source",
		selector: "pkcs11:token=file-token;serial=1111",
		token:    "pkcs11:token=file-token?pin-source=file:pin.txt",
		module:   "/file/lib.so",
		pin:      "file:" + filepath.Join(dir, "pin.txt"),
		origins: map[string]Origin{
			FieldToken: {FromFile, file}, FieldSerial: {FromFile, file}, FieldPIN: {FromFile, file},
			FieldPKCS11Module: {FromFile, file},
		},
	}, {
		name:     "WASIHSM_TOKEN's URI replaces the file's selection, and its PIN source wins",
		env:      map[string]string{EnvToken: "pkcs11:slot-id=5?pin-source=env:ENV_PIN"},
		selector: "pkcs11:slot-id=5",
		token:    "pkcs11:slot-id=5?pin-source=env:ENV_PIN",
		module:   "/file/lib.so",
		pin:      "env:ENV_PIN",
		origins:  map[string]Origin{FieldToken: {FromEnv, EnvToken}, FieldPIN: {FromEnv, EnvToken}},
	}, {
		name:     "a label in WASIHSM_TOKEN drops the file's URI with its PIN source",
		env:      map[string]string{EnvToken: "env-token"},
		selector: "pkcs11:token=env-token",
		token:    "env-token",
		module:   "/file/lib.so",
		pin:      "",
	}, {
		name:     "WASIHSM_PIN beats the file's URI",
		env:      map[string]string{EnvPIN: "0000"},
		selector: "pkcs11:token=file-token;serial=1111",
		token:    "pkcs11:token=file-token?pin-source=file:pin.txt",
		module:   "/file/lib.so",
		pin:      EnvPIN,
		origins:  map[string]Origin{FieldPIN: {FromEnv, EnvPIN}},
	}, {
		name:     "--token's pin-value beats WASIHSM_PIN",
		flags:    map[string]string{"token": "pkcs11:token=flag-token?pin-value=1357"},
		env:      map[string]string{EnvPIN: "0000", EnvToken: "env-token"},
		selector: "pkcs11:token=flag-token",
		token:    "pkcs11:token=flag-token?pin-value=***",
		module:   "/file/lib.so",
		pin:      "pkcs11.token pin-value",
		origins:  map[string]Origin{FieldToken: {FromFlag, "token"}, FieldPIN: {FromFlag, "token"}},
	}, {
		name:     "a URI's module-path must agree with the module, which the env sets",
		env:      map[string]string{EnvPKCS11Module: "/env/lib.so", EnvToken: "pkcs11:token=t?module-path=/env/./lib.so"},
		selector: "pkcs11:token=t",
		token:    "pkcs11:token=t?module-path=/env/./lib.so",
		module:   "/env/lib.so",
		origins:  map[string]Origin{FieldPKCS11Module: {FromEnv, EnvPKCS11Module}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{EnvConfig: file}
			for k, v := range tt.env {
				env[k] = v
			}
			s, err := load(t, tt.flags, env)
			require.NoError(t, err)
			assert.Equal(t, tt.selector, s.PKCS11.Selector.String())
			assert.Equal(t, tt.token, s.PKCS11.Token)
			assert.Equal(t, tt.module, s.PKCS11.Module)
			assert.Equal(t, tt.pin, s.PKCS11.PIN.String())
			for f, o := range tt.origins {
				assert.Equal(t, o, s.Origin(f), f)
			}
		})
	}

	// A PIN from the pin-value of --token is the PIN itself.
	env := map[string]string{EnvConfig: file, EnvPIN: "0000"}
	s, err := load(t, map[string]string{"token": "pkcs11:token=t?pin-value=1357"}, env)
	require.NoError(t, err)
	pin, err := s.PKCS11.PIN.Read(nil)
	require.NoError(t, err)
	assert.Equal(t, "1357", string(pin))
}

func TestURIModule(t *testing.T) {
	// module-path becomes the module when none is set, if allowed; a
	// relative one in the file is relative to the file.
	file := writeConfig(t, "pkcs11:\n  allowed_modules: [lib/p11.so]\n  token: pkcs11:token=t?module-path=lib/p11.so&module-name=p11\n")
	dir := filepath.Dir(file)
	s, err := load(t, map[string]string{"config": file}, nil)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "lib/p11.so"), s.PKCS11.Module)
	assert.Equal(t, []string{filepath.Join(dir, "lib/p11.so")}, s.PKCS11.AllowedModules)
	assert.Equal(t, Origin{FromFile, file}, s.Origin(FieldPKCS11Module))
	assert.Equal(t, BackendPKCS11, s.Backend)

	// The same module as pkcs11.module, from the environment: allowed by
	// default.
	s, err = load(t, nil, map[string]string{
		EnvPKCS11Module: "/usr/lib/softhsm/libsofthsm2.so",
		EnvToken:        "pkcs11:token=t?module-path=/usr/lib/softhsm/libsofthsm2.so&module-name=softhsm2",
	})
	require.NoError(t, err)
	assert.Equal(t, "/usr/lib/softhsm/libsofthsm2.so", s.PKCS11.Module)
	assert.Equal(t, []string{"/usr/lib/softhsm/libsofthsm2.so"}, s.PKCS11.AllowedModules)

	// module-name also matches with the lib prefix and a versioned suffix.
	s, err = load(t, map[string]string{"pkcs11-module": "/mnt/libmypkcs11.so.1", "token": "pkcs11:token=t?module-name=libmypkcs11"}, nil)
	require.NoError(t, err)
	assert.Equal(t, "/mnt/libmypkcs11.so.1", s.PKCS11.Module)

	// A bare library name is allowed as written.
	s, err = load(t, map[string]string{"config": writeConfig(t, "pkcs11: {module: libsofthsm2.so, allowed_modules: [libsofthsm2.so]}")}, nil)
	require.NoError(t, err)
	assert.Equal(t, "libsofthsm2.so", s.PKCS11.Module)
}

func TestURIPINSources(t *testing.T) {
	file := writeConfig(t, "pkcs11:\n  token: pkcs11:token=t?pin-source=secrets/pin\n")
	dir := filepath.Dir(file)
	tests := []struct {
		source string
		want   string
	}{
		{"file:/etc/wasihsm/pin", "file:/etc/wasihsm/pin"},
		{"file:///etc/wasihsm/pin", "file:/etc/wasihsm/pin"},
		{"file://localhost/etc/wasihsm/pin", "file:/etc/wasihsm/pin"},
		{"/etc/wasihsm/pin", "file:/etc/wasihsm/pin"},
		{"file:pin", "file:pin"},
		{"env:TOKEN_PIN", "env:TOKEN_PIN"},
	}
	for _, tt := range tests {
		s, err := load(t, map[string]string{"token": "pkcs11:token=t?pin-source=" + tt.source}, nil)
		require.NoError(t, err, tt.source)
		assert.Equal(t, tt.want, s.PKCS11.PIN.String(), tt.source)
	}

	// In the file, a relative path is relative to the file.
	s, err := load(t, map[string]string{"config": file}, nil)
	require.NoError(t, err)
	assert.Equal(t, "file:"+filepath.Join(dir, "secrets/pin"), s.PKCS11.PIN.String())
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "secrets"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "secrets/pin"), []byte("2468\n"), 0o600))
	pin, err := s.PKCS11.PIN.Read(nil)
	require.NoError(t, err)
	assert.Equal(t, "2468", string(pin))

	// An empty pin-value is an explicitly empty PIN.
	s, err = load(t, map[string]string{"token": "pkcs11:token=t?pin-value="}, nil)
	require.NoError(t, err)
	pin, err = s.PKCS11.PIN.Read(nil)
	require.NoError(t, err)
	assert.Equal(t, "", string(pin))
}

// TestPINFilePermissions: a file that holds a PIN must not be readable by
// others.
func TestPINFilePermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows has no POSIX permission bits: such a file is always refused")
	}
	const withPIN = "pkcs11:\n  module: /lib.so\n  token: pkcs11:token=t?pin-value=97531\n"
	tests := []struct {
		name string
		body string
		mode os.FileMode
		env  map[string]string
		want string // the problem, or "" for none
	}{
		{name: "0600 with a PIN", body: withPIN, mode: 0o600},
		{name: "0400 with a PIN", body: withPIN, mode: 0o400},
		{name: "0644 with a PIN", body: withPIN, mode: 0o644, want: "mode 0644"},
		{name: "0640 with a PIN", body: withPIN, mode: 0o640, want: "mode 0640"},
		{name: "0604 with a PIN", body: withPIN, mode: 0o604, want: "mode 0604"},
		{name: "0620 with a PIN", body: withPIN, mode: 0o620, want: "mode 0620"},
		{name: "0644 with a PIN that the environment overrides", body: withPIN, mode: 0o644,
			env: map[string]string{EnvToken: "other", EnvPIN: "1"}, want: "mode 0644"},
		{name: "0644 with a broken URI that holds a PIN", body: "pkcs11:\n  token: pkcs11:token=%?pin-value=97531\n", mode: 0o644,
			want: "mode 0644"},
		{name: "0644 with a pin-source", body: "pkcs11:\n  token: pkcs11:token=t?pin-source=file:/p\n", mode: 0o644},
		{name: "0644 with pkcs11.pin", body: "pkcs11:\n  token: t\n  pin: env:P\n", mode: 0o644},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeConfigMode(t, tt.body, tt.mode)
			_, err := load(t, map[string]string{"config": p}, tt.env)
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, strings.Split(err.Error(), "\n"),
				fmt.Sprintf("config %s: holds a PIN (pkcs11.token pin-value) but is readable by others (%s): chmod 600 %s", p, tt.want, p))
			assert.NotContains(t, err.Error(), "97531")
		})
	}
}

// TestUntrustedFile: a configuration file names the module that wasihsm
// loads, so one that another user could have written is refused, as ssh
// refuses its own. The tests run as root, who can give a file to another
// user (uid 65534); a file of root's is trusted by every user.
func TestUntrustedFile(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows has no POSIX owners and permission bits: the check does nothing there")
	}
	const body = "pkcs11: {module: /lib.so, token: t}\n"
	tests := []struct {
		name  string
		mode  os.FileMode
		owner int
		want  error  // the reason, or nil
		msg   string // the problem, after "config PATH: "
	}{
		{name: "0600", mode: 0o600, owner: os.Geteuid()},
		{name: "0644", mode: 0o644, owner: os.Geteuid()},
		{name: "0644 of root's", mode: 0o644, owner: 0},
		{name: "0666", mode: 0o666, owner: os.Geteuid(), want: trusted.ErrWritable,
			msg: "writable by group or others (mode 0666): whoever can write it chooses the PKCS#11 module that wasihsm loads; chmod go-w $FILE"},
		{name: "0620", mode: 0o620, owner: os.Geteuid(), want: trusted.ErrWritable,
			msg: "writable by group or others (mode 0620): whoever can write it chooses the PKCS#11 module that wasihsm loads; chmod go-w $FILE"},
		{name: "another user's", mode: 0o600, owner: 65534, want: trusted.ErrNotOwned,
			msg: fmt.Sprintf("owned by another user (uid 65534; this process runs as uid %d): whoever can write it chooses the PKCS#11 module that wasihsm loads; "+
				"make it yours or root's (chown), not writable by others", os.Geteuid())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeConfigMode(t, body, tt.mode)
			require.NoError(t, os.Chown(p, tt.owner, -1))
			_, err := load(t, map[string]string{"config": p}, nil)
			if tt.want == nil {
				require.NoError(t, err)
				require.NoError(t, CheckFile(p))
				return
			}
			require.ErrorIs(t, err, tt.want)
			want := "config " + p + ": " + strings.ReplaceAll(tt.msg, "$FILE", p)
			assert.EqualError(t, err, want)
			assert.EqualError(t, CheckFile(p), want, "CheckFile says what Load says")

			s, err := Load(Input{Flags: map[string]string{"config": p}, LookupEnv: env(nil), UserCacheDir: cacheBase, AllowUntrustedFile: true})
			require.NoError(t, err, "a diagnosis reads it")
			assert.Equal(t, "/lib.so", s.PKCS11.Module)
		})
	}
}

func TestManagedKeys(t *testing.T) {
	hash := strings.Repeat("Ab", 32)
	file := writeConfig(t, `
pkcs11: {module: /lib.so, token: wasihsm}
keys:
  - name: signer
    label: jws-signer
    algorithm: ES384
    guests:
      - module: jws.wasm
      - sha256: `+hash+`
  - name: sealer
    id: "00FF"
    algorithm: A256GCM
    guests: [module: box.wasm]
    operations: [decrypt]
  - name: deriver
    label: k
    id: "01"
    algorithm: ECDH-P256
    guests: [{sha256: `+strings.Repeat("0", 64)+`}]
    operations: [derive]
`)
	s, err := load(t, map[string]string{"config": file}, nil)
	require.NoError(t, err)
	assert.Equal(t, BackendPKCS11, s.Backend)
	assert.Equal(t, Origin{FromFile, file}, s.Origin(FieldKeys))
	require.Len(t, s.Keys, 3)
	assert.Equal(t, ManagedKey{
		Name: "signer", Label: "jws-signer", Algorithm: provider.MustLookup("ES384"),
		Guests:     []KeyGuest{{Module: "jws.wasm"}, {SHA256: strings.ToLower(hash)}},
		Operations: []provider.Operation{provider.OpSign, provider.OpExportPublic},
	}, s.Keys[0])
	assert.Equal(t, ManagedKey{
		Name: "sealer", ID: []byte{0, 0xff}, Algorithm: provider.MustLookup("A256GCM"),
		Guests: []KeyGuest{{Module: "box.wasm"}}, Operations: []provider.Operation{provider.OpDecrypt},
	}, s.Keys[1])
	assert.Equal(t, []provider.Operation{provider.OpDerive}, s.Keys[2].Operations)
	assert.Equal(t, []byte{1}, s.Keys[2].ID)

	k, ok := s.ManagedKey("signer")
	require.True(t, ok)
	assert.True(t, k.AllowsGuest(provider.Guest{Name: "jws.wasm"}))
	assert.True(t, k.AllowsGuest(provider.Guest{Name: "other.wasm", SHA256: strings.ToUpper(hash)}))
	assert.False(t, k.AllowsGuest(provider.Guest{Name: "jws", SHA256: strings.Repeat("0", 64)}))
	assert.False(t, k.AllowsGuest(provider.Guest{}))
	assert.True(t, k.AllowsOperation(provider.OpSign))
	assert.False(t, k.AllowsOperation(provider.OpDerive))
	_, ok = s.ManagedKey("nope")
	assert.False(t, ok)

	assert.False(t, KeyGuest{}.Matches(provider.Guest{}), "an empty rule matches nothing")
	assert.False(t, KeyGuest{Module: "a.wasm"}.Matches(provider.Guest{SHA256: "a.wasm"}))
}

// TestManagedKeysSameObject: two names for one token object load when
// they grant the same guests the same operations, in any order; a key by
// label alone and one by id alone may name the same object or not, which
// only the token tells, so they load too.
func TestManagedKeysSameObject(t *testing.T) {
	file := writeConfig(t, `
pkcs11: {module: /lib.so, token: wasihsm}
keys:
  - {name: a, label: l, algorithm: A256GCM, guests: [module: g, module: h], operations: [encrypt, decrypt]}
  - {name: b, label: l, algorithm: A256GCM, guests: [module: h, module: g], operations: [decrypt, encrypt]}
  - {name: c, label: m, algorithm: ES256, guests: [module: g]}
  - {name: d, id: "01", algorithm: ES256, guests: [module: h]}
`)
	s, err := load(t, map[string]string{"config": file}, nil)
	require.NoError(t, err)
	require.Len(t, s.Keys, 4)
}

func TestSessionSettings(t *testing.T) {
	s, err := load(t, map[string]string{"config": writeConfig(t, "pkcs11: {session_wait: 1m30s, call_timeout: 750ms, max_sessions: 0x10}")}, nil)
	require.NoError(t, err)
	assert.Equal(t, 90*time.Second, s.PKCS11.SessionWait)
	assert.Equal(t, 750*time.Millisecond, s.PKCS11.CallTimeout)
	assert.Equal(t, Origin{FromFile, s.ConfigFile}, s.Origin(FieldCallTimeout))
	assert.Equal(t, 16, s.PKCS11.MaxSessions)
	assert.Equal(t, Origin{FromFile, s.ConfigFile}, s.Origin(FieldSessionWait))
	assert.True(t, s.BackendImplicit(), "session settings alone do not ask for the token")
}

// TestInitArgs: pkcs11.init_args reaches the settings as written, NSS's
// parameter string with its quotes included; a NUL byte, which would cut
// the C string short, is refused.
func TestInitArgs(t *testing.T) {
	const nss = `configdir='sql:/var/lib/wasihsm/nssdb' certPrefix='' keyPrefix='' secmod='secmod.db' flags=`
	for _, tc := range []struct {
		name, body, want string
	}{
		{"double-quoted", "pkcs11:\n  init_args: \"" + nss + "\"\n", nss},
		{"plain", "pkcs11:\n  init_args: " + nss + "\n", nss},
		{"absent", "pkcs11:\n  session_wait: 1s\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := load(t, map[string]string{"config": writeConfig(t, tc.body)}, nil)
			require.NoError(t, err)
			assert.Equal(t, tc.want, s.PKCS11.InitArgs)
			if tc.want != "" {
				assert.Equal(t, Origin{FromFile, s.ConfigFile}, s.Origin(FieldInitArgs))
			}
		})
	}
	_, err := load(t, map[string]string{"config": writeConfig(t, "pkcs11: {init_args: \"a\\0b\"}\n")}, nil)
	var fe *FieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, FieldInitArgs, fe.Field)
}

// TestURIPINNeverShown formats settings whose PIN came from a URI's
// pin-value, and errors about such a URI.
func TestURIPINNeverShown(t *testing.T) {
	const pin = "27182818"
	s, err := load(t, map[string]string{"token": "pkcs11:token=t?pin-value=" + pin}, nil)
	require.NoError(t, err)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		for _, v := range []any{s, s.PKCS11, s.PKCS11.PIN, s.PKCS11.Selector, &s} {
			out := fmt.Sprintf(verb, v)
			assert.NotContains(t, out, pin, "%s of %T", verb, v)
			assert.NotContains(t, out, fmt.Sprintf("%x", pin), "%s of %T", verb, v)
		}
	}

	for _, body := range []string{
		"pkcs11: {token: 'pkcs11:token=t?pin-value=" + pin + "&pin-value=" + pin + "'}",
		"pkcs11: {token: 'pkcs11:token=t;object=o?pin-value=" + pin + "'}",
		"pkcs11: {token: 'pkcs11:token=t?pin-value=" + pin + "&pin-source=x'}",
		"pkcs11: {token: ' pkcs11:token=t?pin-value=" + pin + "'}",
		"pkcs11: 'pkcs11:token=t?pin-value=" + pin + "'",
		"keys: ['pkcs11:token=t?pin-value=" + pin + "']",
		"pkcs11: {pin: env:P, token: 'pkcs11:token=t?pin-value=" + pin + "'}",
	} {
		_, err := load(t, map[string]string{"config": writeConfig(t, body)}, nil)
		require.Error(t, err, body)
		assert.NotContains(t, err.Error(), pin, body)
	}
	_, err = load(t, map[string]string{"token": "pkcs11:token=t?pin-value=" + pin + "%zz"}, map[string]string{EnvPIN: "1"})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), pin)
}
