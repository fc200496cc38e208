package vectors

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
)

// wycheCase holds the fields that every Wycheproof test case has.
type wycheCase struct {
	TcID    int `json:"tcId"`
	Comment string
	Flags   []string
	Result  string
}

func (c wycheCase) where(file string) string { return fmt.Sprintf("%s#%d", file, c.TcID) }

func (c wycheCase) toCase(file string) Case {
	return Case{File: file, ID: c.TcID, Comment: c.Comment, Flags: c.Flags, Result: Result(c.Result)}
}

// loadWycheproof decodes the test groups of a Wycheproof file into G, and
// checks that the file holds numberOfTests cases, each with a known result.
func loadWycheproof[G any](t TB, file string) []G {
	t.Helper()
	data := readFile(t, "wycheproof/"+file)
	var shape struct {
		NumberOfTests int
		TestGroups    []struct {
			Tests []wycheCase
		}
	}
	if err := json.Unmarshal(data, &shape); err != nil {
		t.Fatalf("vectors: %s: %v", file, err)
	}
	n := 0
	for _, g := range shape.TestGroups {
		for _, c := range g.Tests {
			switch Result(c.Result) {
			case Valid, Invalid, Acceptable:
			default:
				t.Fatalf("vectors: %s: unknown result %q", c.where(file), c.Result)
			}
			n++
		}
	}
	if n == 0 || n != shape.NumberOfTests {
		t.Fatalf("vectors: %s: %d test cases, the file says %d", file, n, shape.NumberOfTests)
	}
	var doc struct{ TestGroups []G }
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("vectors: %s: %v", file, err)
	}
	return doc.TestGroups
}

// checkEd25519Pair fails the test unless k.Seed derives k.PublicKey, so that
// a mistyped key cannot pass as a published one.
func checkEd25519Pair(t TB, where string, k Ed25519Key) {
	t.Helper()
	pub := ed25519.NewKeyFromSeed(k.Seed).Public().(ed25519.PublicKey)
	if !bytes.Equal(pub, k.PublicKey) {
		t.Fatalf("vectors: %s: the seed does not derive the public key", where)
	}
}
