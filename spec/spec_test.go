package spec

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// semantics returns the text of one numbered section of docs/semantics.md,
// the contract as the repository states it.
func semantics(t *testing.T, section string) string {
	t.Helper()
	b, err := os.ReadFile("../docs/semantics.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "\n## "+section+". ")
	if !ok {
		t.Fatalf("docs/semantics.md has no section %s", section)
	}
	body, _, _ := strings.Cut(rest, "\n## ")
	return body
}

// The numbers are the wire values (the spec's enum order, as WASI
// preview1); the names are the rows of docs/semantics.md#errors and success.
func TestErrnos(t *testing.T) {
	want := map[string]Errno{
		"success": 0, "access": 2, "badf": 8, "badmsg": 9, "fault": 21, "inval": 28, "io": 29,
		"mfile": 33, "msgsize": 35, "nfile": 41, "noent": 44, "nomem": 48, "notrecoverable": 56,
		"notsup": 58, "range": 68, "timedout": 73,
	}
	documented := []string{"success"}
	for _, m := range regexp.MustCompile(`(?m)^\| (\w+) \|`).FindAllStringSubmatch(semantics(t, "5"), -1) {
		if m[1] != "errno" {
			documented = append(documented, m[1])
		}
	}

	all := Errnos()
	if !slices.IsSorted(all) {
		t.Errorf("Errnos() = %v, not in numeric order", all)
	}
	if len(all) != len(want) || len(documented) != len(want) {
		t.Errorf("%d errnos, %d in docs/semantics.md#errors, want %d", len(all), len(documented), len(want))
	}
	seen := map[string]bool{}
	for _, e := range all {
		name := e.Name()
		if seen[name] {
			t.Errorf("two errnos named %q", name)
		}
		seen[name] = true
		if v, ok := want[name]; !ok || v != e {
			t.Errorf("errno %d is named %q; want %q = %d", e, name, name, v)
		}
		if e.String() != name {
			t.Errorf("Errno(%d).String() = %q, want %q", e, e.String(), name)
		}
	}
	for _, name := range documented {
		if !seen[name] {
			t.Errorf("docs/semantics.md#errors names %q, which has no errno", name)
		}
	}
	for _, e := range []Errno{1, 30, 74, 1000} {
		if e.Name() != "" {
			t.Errorf("Errno(%d).Name() = %q, want none", e, e.Name())
		}
	}
	if got := Errno(1000).String(); got != "errno(1000)" {
		t.Errorf("Errno(1000).String() = %q", got)
	}
}

// The table holds exactly the names of docs/semantics.md#algorithms, each under
// its own name, with the sizes the contract fixes.
func TestAlgorithms(t *testing.T) {
	// The section's first paragraph lists the names, in backquotes.
	para := strings.Split(semantics(t, "4"), "\n\n")[1]
	names := regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(para, -1)
	var documented []string
	for _, m := range names {
		documented = append(documented, strings.Fields(m[1])...)
	}
	all := Algorithms()
	if len(all) != len(documented) {
		t.Errorf("%d algorithms, docs/semantics.md#algorithms lists %d", len(all), len(documented))
	}
	for _, name := range documented {
		a, ok := Lookup(name)
		if !ok || a.Name != name || !a.Valid() || a.String() != name {
			t.Errorf("Lookup(%q) = %+v, %v", name, a, ok)
		}
		if b, ok := LookupBytes([]byte(name)); !ok || b != a {
			t.Errorf("LookupBytes(%q) = %+v, %v; Lookup gives %+v", name, b, ok, a)
		}
	}
	for i := 1; i < len(all); i++ {
		if p, a := all[i-1], all[i]; p.Kind > a.Kind || p.Kind == a.Kind && p.Name >= a.Name {
			t.Errorf("Algorithms(): %s before %s", p, a)
		}
	}

	tests := []struct {
		name                  string
		kind                  Kind
		output, key           int
		nonce, tag            int
		hash, curve           string
		rsa, pss, keyed, symm bool
	}{
		{name: "SHA-1", kind: KindHash, output: 20},
		{name: "SHA3-384", kind: KindHash, output: 48},
		{name: "SHAKE128", kind: KindXOF},
		{name: "A192GCM", kind: KindAEAD, output: 16, key: 24, nonce: 12, tag: 16, keyed: true, symm: true},
		{name: "HS384", kind: KindMAC, output: 48, key: 48, hash: "SHA-384", keyed: true, symm: true},
		{name: "ES512", kind: KindSignature, output: 132, hash: "SHA-512", curve: "P-521", keyed: true},
		{name: "EdDSA", kind: KindSignature, output: 64, curve: "Ed25519", keyed: true},
		{name: "RS384", kind: KindSignature, key: 2048, hash: "SHA-384", rsa: true, keyed: true},
		{name: "PS256", kind: KindSignature, key: 2048, hash: "SHA-256", rsa: true, pss: true, keyed: true},
		{name: "ECDH-P384", kind: KindKeyAgreement, output: 48, curve: "P-384", keyed: true},
		{name: "X25519", kind: KindKeyAgreement, output: 32, curve: "X25519", keyed: true},
		{name: "HKDF", kind: KindKDF, keyed: true, symm: true},
	}
	for _, tt := range tests {
		a, _ := Lookup(tt.name)
		got := [...]any{a.Kind, a.OutputSize, a.KeySize, a.NonceSize, a.TagSize, a.Hash, a.Curve,
			a.IsRSA(), a.IsPSS(), a.Kind.Keyed(), a.Kind.Symmetric()}
		want := [...]any{tt.kind, tt.output, tt.key, tt.nonce, tt.tag, tt.hash, tt.curve,
			tt.rsa, tt.pss, tt.keyed, tt.symm}
		if got != want {
			t.Errorf("%s: got %v, want %v", tt.name, got, want)
		}
	}

	for _, name := range []string{"sha-256", "SHA256", "SHA-256 ", "es256", "Ed25519", "", "hkdf"} {
		if _, ok := Lookup(name); ok {
			t.Errorf("Lookup(%q) found an algorithm: names are exact", name)
		}
	}
	for name, want := range map[string]bool{"SHA-256": true, "SHA-384": true, "SHA-512": true, "SHA-1": false, "SHA3-256": false} {
		if got := HKDFHash(mustLookup(t, name)); got != want {
			t.Errorf("HKDFHash(%s) = %v, want %v", name, got, want)
		}
	}
	if got := Kind(99).String(); got != "kind(99)" {
		t.Errorf("Kind(99).String() = %q", got)
	}
}

func mustLookup(t *testing.T, name string) Algorithm {
	t.Helper()
	a, ok := Lookup(name)
	if !ok {
		t.Fatalf("no algorithm %q", name)
	}
	return a
}
