package bench

import (
	"crypto/sha256"
	"crypto/sha3"
	"crypto/sha512"
	"encoding/hex"
	"hash"
	"runtime"
	"strconv"
	"testing"

	"github.com/wasihsm/wasihsm/internal/testguest"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/softfallback"
	"github.com/wasihsm/wasihsm/wasihost"
)

// softHarness is the loop guest on the software backend.
func softHarness(tb testing.TB) *testguest.Harness {
	tb.Helper()
	router, err := provider.NewRouter(provider.RouterConfig{Primary: softfallback.New()})
	if err != nil {
		tb.Fatalf("bench: %v", err)
	}
	return newHarness(tb, router)
}

// hashes are the hashes of the 1 MiB rows, with the standard library's
// implementation: the host's, and the guest's baseline.
var hashes = []struct {
	name string
	new  func() hash.Hash
}{
	{"SHA-256", sha256.New},
	{"SHA-512", sha512.New},
	{"SHA3-256", func() hash.Hash { return sha3.New256() }},
}

// mib is the message size of the hash rows.
const mib = 1 << 20

// pattern is the guest's data: size bytes of i%251.
func pattern(size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

// nativeHash hashes data with the standard library, as the guest's
// baseline does.
func nativeHash(newHash func() hash.Hash, data []byte) string {
	h := newHash()
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

// checkDigest fails tb when the guest's answer is not the digest want.
func checkDigest(tb testing.TB, what string, answer []string, want string) {
	tb.Helper()
	if len(answer) != 1 || answer[0] != want {
		tb.Fatalf("bench: %s answered %v, want the digest %s", what, answer, want)
	}
}

// BenchmarkCheapestCall is the cheapest host call, hash_update of 0 bytes
// on the software backend, against a bare api.GoModuleFunc import of the
// same signature, both called in a loop inside a Go guest. Goal: at most
// 1.5× the time.
func BenchmarkCheapestCall(b *testing.B) {
	s := start(b, softHarness(b), "bench")
	for range *rounds {
		b.Run("product", func(b *testing.B) {
			b.ReportAllocs()
			loop(b, s, "update0")
		})
		b.Run("baseline", func(b *testing.B) {
			b.ReportAllocs()
			loop(b, s, "nop")
		})
	}
}

// BenchmarkBudget measures what the instance budget adds to a host call
// that charges it — one Charge and one Release of provider.Budget, as
// cipher_encrypt makes for its staging — against the cheapest host call,
// hash_update of 0 bytes (software), which charges nothing. Goal: at most
// 0.25× the cheapest call (a charged call is never the cheapest: it also
// stages or buffers what it charges).
func BenchmarkBudget(b *testing.B) {
	s := start(b, softHarness(b), "bench")
	budget := provider.NewBudget(wasihost.DefaultMaxInstanceBytes)
	for range *rounds {
		b.Run("charge-release", func(b *testing.B) {
			hostLoop(b, func() ([]byte, error) {
				if err := budget.Charge(64 + 16); err != nil {
					return nil, err
				}
				budget.Release(64 + 16)
				return nil, nil
			})
		})
		b.Run("cheapest-call", func(b *testing.B) {
			b.ReportAllocs()
			loop(b, s, "update0")
		})
	}
}

// BenchmarkHash hashes 1 MiB: through the host (software backend), with
// the standard library in the host process, and with the same code
// compiled into the guest. Goals: ≥ 0.9× native throughput, ≥ 30× the
// guest's.
func BenchmarkHash(b *testing.B) {
	s := start(b, softHarness(b), "bench")
	data := pattern(mib)
	for range *rounds {
		benchHashes(b, s, data)
	}
}

func benchHashes(b *testing.B, s *session, data []byte) {
	for _, h := range hashes {
		want := nativeHash(h.new, data)
		b.Run(h.name+"/host", func(b *testing.B) {
			b.SetBytes(mib)
			b.ReportAllocs()
			checkDigest(b, "hash "+h.name, loop(b, s, "hash "+h.name+" "+strconv.Itoa(mib)), want)
		})
		b.Run(h.name+"/native", func(b *testing.B) {
			b.SetBytes(mib)
			d := h.new()
			var sum []byte
			hostLoop(b, func() ([]byte, error) {
				d.Reset()
				d.Write(data)
				sum = d.Sum(sum[:0])
				return sum, nil
			})
			checkDigest(b, "native "+h.name, []string{hex.EncodeToString(sum)}, want)
		})
		b.Run(h.name+"/in-guest", func(b *testing.B) {
			b.SetBytes(mib)
			checkDigest(b, "ghash "+h.name, loop(b, s, "ghash "+h.name+" "+strconv.Itoa(mib)), want)
		})
	}
}

// BenchmarkHotPath calls hash_update, hash_digest and sign_update in a
// loop inside the guest (software backend); with -benchmem, allocs/op is
// the host's allocations per call, which must be 0.
func BenchmarkHotPath(b *testing.B) {
	s := start(b, softHarness(b), "bench")
	emptyDigest := nativeHash(sha256.New, nil)
	for range *rounds {
		b.Run("hash_update-0B", func(b *testing.B) {
			b.ReportAllocs()
			loop(b, s, "update0")
		})
		b.Run("hash_digest-32B", func(b *testing.B) {
			b.ReportAllocs()
			checkDigest(b, "digest", loop(b, s, "digest"), emptyDigest)
		})
		b.Run("sign_update-64B", func(b *testing.B) {
			b.ReportAllocs()
			loop(b, s, "signupdate")
		})
	}
}

// BenchmarkParallelSoftware signs with ES256 (software backend) in one
// guest instance, and split over two instances of the same host running
// at once. Goal: two instances give ≥ 1.7× the throughput of one.
func BenchmarkParallelSoftware(b *testing.B) {
	h := softHarness(b)
	s1, s2 := start(b, h, "bench"), start(b, h, "bench")
	for range *rounds {
		b.Run("1-instance", func(b *testing.B) { together(b, "sign ES256", s1) })
		b.Run("2-instances", func(b *testing.B) { together(b, "sign ES256", s1, s2) })
	}
}

// idleInstances is how many instances BenchmarkIdleInstance starts to
// measure one.
const idleInstances = 4

// heapInUse is the memory the process holds in its heap and goroutine
// stacks after a collection: guest linear memory is a Go slice, so it
// counts too.
func heapInUse() int64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc + m.StackInuse)
}

// BenchmarkIdleInstance reports the host memory one idle instance of the
// loop guest holds (its linear memory, its goroutine, the host's state for
// it) as B/instance; its ns/op is the time to start one and have it
// answer.
func BenchmarkIdleInstance(b *testing.B) {
	h := softHarness(b)
	warm := start(b, h, "bench")
	warm.must(b, "nop 1")
	before := heapInUse()
	for range idleInstances {
		start(b, h, "bench").must(b, "nop 1")
	}
	perInstance := float64(heapInUse()-before) / idleInstances
	b.ResetTimer()
	for range b.N {
		s := start(b, h, "bench")
		s.must(b, "nop 1")
		s.close()
	}
	b.StopTimer()
	b.ReportMetric(perInstance, "B/instance")
}

// BenchmarkGrowth runs hash_open, hash_update, hash_digest and hash_close
// b.N times (4 calls each) in one instance and reports how much the host's
// heap grew meanwhile (heap-B) for how many calls: with the final b.N of
// `make bench`, well over 10^6 calls, it must stay flat.
func BenchmarkGrowth(b *testing.B) {
	s := start(b, softHarness(b), "bench")
	s.must(b, "cycle 10000")
	before := heapInUse()
	loop(b, s, "cycle")
	growth := heapInUse() - before
	b.ReportMetric(float64(4*b.N), "calls")
	b.ReportMetric(float64(growth), "heap-B")
}

// TestSoftware runs each software command of the benchmarks a few times
// and checks the answers against the standard library.
func TestSoftware(t *testing.T) {
	s := start(t, softHarness(t), "bench")
	s.must(t, "nop 3")
	s.must(t, "update0 3")
	checkDigest(t, "digest", s.must(t, "digest 3"), nativeHash(sha256.New, nil))
	s.must(t, "signupdate 3")
	s.must(t, "cycle 3")
	data := pattern(4096)
	for _, h := range hashes {
		want := nativeHash(h.new, data)
		checkDigest(t, "hash "+h.name, s.must(t, "hash %s 4096 2", h.name), want)
		checkDigest(t, "ghash "+h.name, s.must(t, "ghash %s 4096 2", h.name), want)
	}
	checkSignature(t, "ES256", s.must(t, "sign ES256 2"))
	checkSignature(t, "EdDSA", s.must(t, "sign EdDSA 2"))
	checkMAC(t, s.must(t, "hmac HS256 2"))
	checkGCM(t, 64, 2, s.must(t, "gcm A256GCM 64 2"))
	checkGCM(t, 64, 3, s.must(t, "gcm A256GCM 64 3")) // the nonces go on
	s.must(t, "keygen ES256 2")
	s.must(t, "keygen A256GCM 2")
	for _, bad := range []string{"", "nop", "nop 0", "nop x", "hash SHA-256 1", "frob 1", "hash NOPE 1 1"} {
		if _, err := s.do("%s", bad); err == nil {
			t.Errorf("bench: the guest accepted %q", bad)
		}
	}
}

// TestNoAllocations checks, more strictly than allocs/op, that the hot
// paths allocate nothing per call: the whole process allocates less than
// once per 100 calls (the command's own I/O is a few allocations).
func TestNoAllocations(t *testing.T) {
	s := start(t, softHarness(t), "bench")
	const n = 20000
	for _, cmd := range []string{"update0", "digest", "signupdate"} {
		s.must(t, "%s 10", cmd)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		s.must(t, "%s %d", cmd, n)
		runtime.ReadMemStats(&after)
		if allocs := after.Mallocs - before.Mallocs; allocs > n/100 {
			t.Errorf("bench: %d calls of %s allocated %d times", n, cmd, allocs)
		}
	}
}
