package bench

import (
	"crypto/sha256"
	"crypto/sha512"
	"strconv"
	"testing"

	"github.com/wasihsm/wasihsm/internal/testguest"
	"github.com/wasihsm/wasihsm/internal/wasmtoolchain"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/softfallback"
	"github.com/wasihsm/wasihsm/wasihost"
)

// cHashGuest is the C guest of BenchmarkGuestLanguage, built against the
// SDK header (guest/c).
const cHashGuest = "bench/guests/chash/main.c"

// cHarness is the C guest on the software backend.
func cHarness(tb testing.TB) *testguest.Harness {
	tb.Helper()
	router, err := provider.NewRouter(provider.RouterConfig{Primary: softfallback.New()})
	if err != nil {
		tb.Fatalf("bench: %v", err)
	}
	return testguest.NewHarness(tb, router, wasihost.Options{}, wasmtoolchain.C(tb, cHashGuest))
}

// BenchmarkGuestLanguage hashes 1 MiB with SHA-256 through the import
// from a C guest and from the Go guest (software backend), each calling
// its SDK's one-shot hash. Goal: the C guest ≥ 0.95× the Go guest's
// throughput, so that no language pays more at the boundary.
func BenchmarkGuestLanguage(b *testing.B) {
	c := start(b, cHarness(b), "chash")
	g := start(b, softHarness(b), "bench")
	data := pattern(mib)
	want := nativeHash(sha256.New, data)
	cmd := "hash SHA-256 " + strconv.Itoa(mib)
	for range *rounds {
		b.Run("SHA-256/c", func(b *testing.B) {
			b.SetBytes(mib)
			checkDigest(b, "c "+cmd, loop(b, c, cmd), want)
		})
		b.Run("SHA-256/go", func(b *testing.B) {
			b.SetBytes(mib)
			checkDigest(b, "go "+cmd, loop(b, g, cmd), want)
		})
	}
}

// TestGuestLanguage runs the C guest's command a few times and checks its
// answers against the standard library and its refusals.
func TestGuestLanguage(t *testing.T) {
	s := start(t, cHarness(t), "chash")
	data := pattern(4096)
	checkDigest(t, "c hash SHA-256", s.must(t, "hash SHA-256 4096 2"), nativeHash(sha256.New, data))
	checkDigest(t, "c hash SHA-512", s.must(t, "hash SHA-512 4096 2"), nativeHash(sha512.New, data))
	checkDigest(t, "c hash SHA-256 empty", s.must(t, "hash SHA-256 0 1"), nativeHash(sha256.New, nil))
	for _, bad := range []string{"", "hash SHA-256 1", "hash SHA-256 1 0", "frob 1", "hash NOPE 1 1", "hash SHA-256 1 1 1"} {
		if _, err := s.do("%s", bad); err == nil {
			t.Errorf("bench: the C guest accepted %q", bad)
		}
	}
}
