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
	} {
		f.Add([]byte(seed))
	}
	o := Origin{FromFile, "/etc/wasihsm.yaml"}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := Settings{origins: make(map[string]Origin)}
		for _, err := range s.applyFile(o, data) {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("%T is not a *FieldError: %v", err, err)
			}
			if fe.Origin != o || fe.Problem == "" || fe.Line < 0 {
				t.Fatalf("malformed problem: %#v", fe)
			}
		}
		for field, origin := range s.origins {
			if settingByField(field) == nil || origin != o {
				t.Fatalf("origin of %q: %v", field, origin)
			}
		}
	})
}
