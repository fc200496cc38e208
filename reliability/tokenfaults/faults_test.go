//go:build cgo && linux

package tokenfaults

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/internal/softhsmtest"
	"github.com/wasihsm/wasihsm/internal/testguest"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/wasihost"
)

// TestMain stops the p11-kit server and removes the test token when the
// tests are done (see package softhsmtest).
func TestMain(m *testing.M) {
	code := m.Run()
	softhsmtest.Shutdown()
	os.Exit(code)
}

// long reports whether the long forms run (make faults).
func long() bool { return os.Getenv("WASIHSM_FAULTS") == "long" }

// margin is what a call may take beyond its deadline: scheduling on a
// loaded 2-core machine under -race, more with the long forms' hundreds of
// goroutines.
func margin() time.Duration { return pick(500*time.Millisecond, time.Second) }

// guestSlack is what a guest run may take beyond its calls' deadlines and
// its run on a healthy token: the scheduling of a CPU-bound wasm guest on
// a loaded machine.
const guestSlack = 2 * time.Second

// pick returns short, or long for the long forms.
func pick[T any](short, long_ T) T {
	if long() {
		return long_
	}
	return short
}

const (
	// callTimeout is the backends' deadline in these tests: shorter than
	// the default, to keep the tests short.
	callTimeout = 1 * time.Second
	// managedName is the managed key's name, managedLabel its label on
	// the token.
	managedName  = "signer"
	managedLabel = "tokenfaults-es256"
	// interopGuest signs with a managed key (sign-managed NAME ALG).
	interopGuest = "github.com/wasihsm/wasihsm/conformance/guests/interop"
)

var managedID = []byte{0xfa, 0x01}

// provisionOnce puts the managed key on the token once per process.
var provisionOnce sync.Once

// remoteToken returns the token behind p11-kit with the managed key on it.
func remoteToken(t *testing.T) (*softhsmtest.Fixture, *softhsmtest.RemoteFixture) {
	t.Helper()
	fx := softhsmtest.Token(t)
	r := fx.Remote(t)
	provisionOnce.Do(func() {
		fx.PKCS11Tool(t, "--keypairgen", "--key-type", "EC:prime256v1", "--label", managedLabel, "--id", hex.EncodeToString(managedID))
	})
	return fx, r
}

// openBackend opens a backend on module with the managed key, and closes
// it when the test ends.
func openBackend(t *testing.T, fx *softhsmtest.Fixture, module string, edit func(*hsm.Config)) *hsm.Backend {
	t.Helper()
	cfg := hsm.Config{
		Module:      module,
		Token:       hsm.TokenSelector{Label: fx.Label},
		PIN:         func() ([]byte, error) { return []byte(fx.PIN), nil },
		CallTimeout: callTimeout,
		MaxSessions: 4,
		ManagedKeys: []hsm.ManagedKey{{
			Name: managedName, Label: managedLabel, ID: managedID, Algorithm: provider.MustLookup("ES256"),
			Guests: []hsm.GuestRule{{Module: "interop"}, {Module: "load"}},
		}},
	}
	if edit != nil {
		edit(&cfg)
	}
	b, err := hsm.Open(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// threads is the number of OS threads of the process.
func threads(t *testing.T) int {
	t.Helper()
	status, err := os.ReadFile("/proc/self/status")
	require.NoError(t, err)
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			require.NoError(t, err)
			return n
		}
	}
	t.Fatal("no Threads line in /proc/self/status")
	return 0
}

// threadWatch samples the thread count until stopped and keeps the most.
type threadWatch struct {
	most atomic.Int64
	stop chan struct{}
	done chan struct{}
}

func watchThreads(t *testing.T) *threadWatch {
	w := &threadWatch{stop: make(chan struct{}), done: make(chan struct{})}
	w.most.Store(int64(threads(t)))
	go func() {
		defer close(w.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-tick.C:
				status, err := os.ReadFile("/proc/self/status")
				if err != nil {
					continue
				}
				for line := range strings.SplitSeq(string(status), "\n") {
					if v, ok := strings.CutPrefix(line, "Threads:"); ok {
						if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && int64(n) > w.most.Load() {
							w.most.Store(int64(n))
						}
					}
				}
			}
		}
	}()
	return w
}

func (w *threadWatch) max() int {
	close(w.stop)
	<-w.done
	return int(w.most.Load())
}

// outcome classes of one call.
const (
	ok       = "ok"
	timedout = "timedout"     // provider.ErrTimeout
	device   = "io"           // provider.ErrDevice
	keyLost  = "notrecov"     // provider.ErrKeyLost
	wrong    = "wrong-result" // a signature that does not verify
	other    = "other"
)

func classify(err error) string {
	switch {
	case err == nil:
		return ok
	case errors.Is(err, provider.ErrTimeout):
		return timedout
	case errors.Is(err, provider.ErrKeyLost):
		return keyLost
	case errors.Is(err, provider.ErrDevice):
		return device
	}
	return other
}

// sample is one call of the load.
type sample struct {
	who        string
	start, end time.Time
	class      string
	err        error
}

// recorder collects samples from many goroutines.
type recorder struct {
	mu      sync.Mutex
	samples []sample
}

func (r *recorder) add(s sample) {
	r.mu.Lock()
	r.samples = append(r.samples, s)
	r.mu.Unlock()
}

func (r *recorder) all() []sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.samples)
}

// firstOKAfter is the end of the first successful call that ended after
// at, and whether there was one.
func (r *recorder) firstOKAfter(at time.Time) (time.Time, bool) {
	var first time.Time
	for _, s := range r.all() {
		if s.class == ok && s.end.After(at) && (first.IsZero() || s.end.Before(first)) {
			first = s.end
		}
	}
	return first, !first.IsZero()
}

// summary is the figures of a set of samples.
type summary struct {
	n          int
	classes    map[string]int
	maxLatency time.Duration
	slowest    sample
}

func summarize(samples []sample, keep func(sample) bool) summary {
	s := summary{classes: map[string]int{}}
	for _, x := range samples {
		if keep != nil && !keep(x) {
			continue
		}
		s.n++
		s.classes[x.class]++
		if d := x.end.Sub(x.start); d > s.maxLatency {
			s.maxLatency, s.slowest = d, x
		}
	}
	return s
}

func (s summary) String() string {
	keys := make([]string, 0, len(s.classes))
	for k := range s.classes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%d calls, max latency %v (", s.n, s.maxLatency.Round(time.Millisecond))
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %d", k, s.classes[k])
	}
	b.WriteString(")")
	return b.String()
}

// signer signs with a key and checks each signature.
type signer struct {
	key provider.Key
	pub *ecdsa.PublicKey
}

func newSigner(t *testing.T, key provider.Key) signer {
	t.Helper()
	spki, err := key.(provider.PublicKeyExporter).PublicKeyDER(context.Background())
	require.NoError(t, err)
	pub, err := x509.ParsePKIXPublicKey(spki)
	require.NoError(t, err)
	return signer{key: key, pub: pub.(*ecdsa.PublicKey)}
}

// sign signs a fresh random message and reports the class of the outcome:
// a signature that does not verify is wrong.
func (s signer) sign(ctx context.Context) (string, error) {
	msg := make([]byte, 64)
	rand.Read(msg)
	st, err := s.key.(provider.Signer).NewSignState(ctx, 1<<10)
	if err != nil {
		return classify(err), err
	}
	defer st.Close()
	if err := st.Update(ctx, msg); err != nil {
		return classify(err), err
	}
	sig, err := st.Sign(ctx, nil)
	if err != nil {
		return classify(err), err
	}
	if !verifyES256(s.pub, msg, sig) {
		return wrong, fmt.Errorf("signature %x does not verify", sig)
	}
	return ok, nil
}

// verifyES256 verifies a JOSE ES256 signature (r‖s, 32 bytes each).
func verifyES256(pub *ecdsa.PublicKey, msg, sig []byte) bool {
	if len(sig) != 64 {
		return false
	}
	h := sha256.Sum256(msg)
	return ecdsa.Verify(pub, h[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
}

// load runs workers goroutines that sign with s in a loop until stop is
// closed, recording every call.
func load(rec *recorder, workers int, s signer, who string, stop <-chan struct{}, wg *sync.WaitGroup) {
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("%s-%d", who, i)
			for {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				class, err := s.sign(context.Background())
				rec.add(sample{who: name, start: start, end: time.Now(), class: class, err: err})
				if class != ok {
					// Failing fast must not turn the load into a busy loop.
					time.Sleep(10 * time.Millisecond)
				}
			}
		}()
	}
}

// guestRunner runs the interop guest, signing with the managed key, in a
// host like `wasihsm run`'s.
type guestRunner struct {
	h *testguest.Harness
}

func newGuestRunner(t *testing.T, b *hsm.Backend) guestRunner {
	t.Helper()
	router, err := provider.NewRouter(provider.RouterConfig{Primary: b, Policy: provider.FallbackDeny, ManagedKeys: b})
	require.NoError(t, err)
	return guestRunner{h: testguest.NewHarness(t, router, wasihost.Options{}, testguest.Build(t, interopGuest))}
}

// sign runs the guest once and classifies what it printed: "sig" and
// "spki" that verify are ok, "errno NAME" is NAME.
func (g guestRunner) sign() (string, error) {
	msg := make([]byte, 48)
	rand.Read(msg)
	r := g.h.Run("interop", bytes.NewReader(msg), nil, "sign-managed", managedName, "ES256")
	out := map[string]string{}
	for line := range strings.SplitSeq(strings.TrimSpace(r.Stdout), "\n") {
		if k, v, found := strings.Cut(line, " "); found {
			out[k] = v
		}
	}
	if e, found := out["errno"]; found {
		return e, fmt.Errorf("guest: errno %s (exit %d)", e, r.ExitCode)
	}
	if r.ExitCode != 0 {
		return other, fmt.Errorf("guest exit %d: %s %s", r.ExitCode, r.Stdout, r.Stderr)
	}
	sig, err1 := hex.DecodeString(out["sig"])
	spki, err2 := hex.DecodeString(out["spki"])
	pub, err3 := x509.ParsePKIXPublicKey(spki)
	if err := errors.Join(err1, err2, err3); err != nil {
		return other, fmt.Errorf("guest output %q: %w", r.Stdout, err)
	}
	epub, isEC := pub.(*ecdsa.PublicKey)
	if !isEC || !verifyES256(epub, msg, sig) {
		return wrong, fmt.Errorf("guest signature %x does not verify", sig)
	}
	return ok, nil
}

// guestLoad runs the guest in a loop on workers goroutines until stop.
func guestLoad(rec *recorder, workers int, g guestRunner, stop <-chan struct{}, wg *sync.WaitGroup) {
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				class, err := g.sign()
				rec.add(sample{who: fmt.Sprintf("guest-%d", i), start: start, end: time.Now(), class: class, err: err})
				if class != ok {
					time.Sleep(10 * time.Millisecond)
				}
			}
		}()
	}
}

// waitOK waits until rec has a success that ended after at, up to limit.
func waitOK(t *testing.T, rec *recorder, at time.Time, limit time.Duration) time.Duration {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if first, found := rec.firstOKAfter(at); found {
			return first.Sub(at)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Say why, for the record: the last errors after at.
	var last []string
	for _, s := range rec.all() {
		if s.end.After(at) && s.err != nil {
			last = append(last, s.err.Error())
		}
	}
	last = last[max(0, len(last)-3):]
	t.Fatalf("no successful call within %v of the token coming back; last errors: %q", limit, last)
	return 0
}
