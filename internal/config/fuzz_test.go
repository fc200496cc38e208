package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzFile feeds arbitrary bytes to the file parser: it never panics, and
// every problem is a *FieldError of the file that says what is wrong.
func FuzzFile(f *testing.F) {
	example, err := os.ReadFile(filepath.Join("..", "..", "wasihsm.example.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		string(example),
		"",
		"backend: software\n",
		"fallback: maybe\n",
		"pkcs11: {module: &m /lib.so, token: *m, pin: 'env:P'}\n",
		"limits:\n  max_handles: 0x10\n  max_buffered_bytes: 1_000\n",
		"? [a]\n: b\n",
		"a: b\n---\nc: d\n",
		"- 1\n",
		"pkcs11: {token: 'pkcs11:token=a%2'}\n",
		"pkcs11:\n  token: pkcs11:token=t;serial=1?pin-value=1&module-path=lib.so\n  serial: '2'\n  allowed_modules: [lib.so, '']\n",
		"pkcs11: {slot_id: 0x10, session_wait: 5s, max_sessions: 0}\n",
		"keys:\n  - {name: k, label: l, id: 01, algorithm: ES256, guests: [module: g, {sha256: ab}], operations: [sign]}\n  - x\n",
		"keys: [{guests: [{}], operations: [[]]}]\n",
	} {
		f.Add([]byte(seed))
	}
	o := Origin{FromFile, "/etc/wasihsm.yaml"}
	f.Fuzz(func(t *testing.T, data []byte) {
		l := newLoader(noCacheDir)
		for _, err := range l.applyFile(o, data) {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("%T is not a *FieldError: %v", err, err)
			}
			if fe.Origin != o || fe.Problem == "" || fe.Line < 0 {
				t.Fatalf("malformed problem: %#v", fe)
			}
		}
		for field, origin := range l.s.origins {
			if settingByField(field) == nil && field != FieldKeys || origin != o {
				t.Fatalf("origin of %q: %v", field, origin)
			}
		}
	})
}
