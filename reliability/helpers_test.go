package reliability_test

import (
	"bufio"
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasihsm/wasihsm/internal/testguest"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/softfallback"
)

const relguest = "github.com/wasihsm/wasihsm/reliability/guests/relguest"

func guestWasm(t testing.TB) []byte { return testguest.Build(t, relguest) }

// held is a running `relguest hold` instance: it holds its keys until
// release.
type held struct {
	handles map[string]uint32 // algorithm spec → key handle
	order   []uint32
	stdin   *io.PipeWriter
	done    chan error
	stderr  *strings.Builder
}

// startHold runs `relguest hold specs...` in h as guest name and waits
// until it holds every key.
func startHold(t *testing.T, h *testguest.Harness, name string, specs ...string) *held {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	g := &held{handles: map[string]uint32{}, stdin: inW, done: make(chan error, 1), stderr: &strings.Builder{}}
	var errMu sync.Mutex
	cfg := wazero.NewModuleConfig().WithName("").
		WithArgs(append([]string{name, "hold"}, specs...)...).
		WithStdin(inR).WithStdout(outW).WithStderr(lockedWriter{&errMu, g.stderr}).
		WithSysWalltime().WithSysNanotime().WithRandSource(rand.Reader)
	go func() {
		ctx := context.Background()
		mod, err := h.Host.InstantiateGuest(ctx, h.Runtime, h.Compiled, cfg, provider.Guest{Name: name})
		var exit *sys.ExitError
		if errors.As(err, &exit) && exit.ExitCode() == 0 {
			err = nil
		}
		if mod != nil {
			_ = mod.Close(ctx)
		}
		_ = outW.Close()
		g.done <- err
	}()
	sc := bufio.NewScanner(outR)
	ready := make(chan error, 1)
	go func() {
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			switch {
			case len(f) == 3 && f[0] == "key":
				v, _ := strconv.ParseUint(f[2], 10, 32)
				g.handles[f[1]] = uint32(v)
				g.order = append(g.order, uint32(v))
			case len(f) == 1 && f[0] == "ready":
				ready <- nil
				_, _ = io.Copy(io.Discard, outR)
				return
			}
		}
		ready <- errors.New("the guest ended before it was ready")
	}()
	select {
	case err := <-ready:
		if err != nil {
			errMu.Lock()
			defer errMu.Unlock()
			t.Fatalf("hold %v: %v; stderr: %s", specs, err, g.stderr)
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("hold %v: not ready after 2 minutes", specs)
	}
	t.Cleanup(func() { g.release(t) })
	return g
}

// release ends the guest's stdin, so that it closes its keys and exits.
func (g *held) release(t *testing.T) {
	t.Helper()
	if g.stdin == nil {
		return
	}
	_ = g.stdin.Close()
	g.stdin = nil
	if err := <-g.done; err != nil {
		t.Errorf("hold guest: %v; stderr: %s", err, g.stderr)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// countingSoftware is the software backend, counting what reaches it.
type countingSoftware struct {
	*softfallback.Backend
	hashes, keys atomic.Int64
}

func newCountingSoftware() *countingSoftware {
	return &countingSoftware{Backend: softfallback.New()}
}

func (c *countingSoftware) NewHash(ctx context.Context, alg provider.Algorithm) (provider.Hash, error) {
	c.hashes.Add(1)
	return c.Backend.NewHash(ctx, alg)
}

func (c *countingSoftware) GenerateKey(ctx context.Context, req provider.KeyRequest) (provider.Key, error) {
	c.keys.Add(1)
	return c.Backend.GenerateKey(ctx, req)
}

// rss returns the process's resident set size in bytes (Linux), or 0.
func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// envDuration reads a duration from the environment, or def.
func envDuration(t testing.TB, name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, v, err)
	}
	return d
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// importSpec is relguest's hold spec that imports a new key of alg:
// "import:ALG:HEX", with raw bytes for AES-GCM and HMAC, PKCS#8 otherwise.
func importSpec(t testing.TB, alg string) string {
	t.Helper()
	var material []byte
	var err error
	switch alg {
	case "A128GCM", "A192GCM", "A256GCM", "HS256", "HS384", "HS512":
		n := map[string]int{"A128GCM": 16, "A192GCM": 24, "A256GCM": 32, "HS256": 32, "HS384": 48, "HS512": 64}[alg]
		material = make([]byte, n)
		_, _ = rand.Read(material)
	case "ES256", "ES384", "ES512":
		c := map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()}[alg]
		k, _ := ecdsa.GenerateKey(c, rand.Reader)
		material, err = x509.MarshalPKCS8PrivateKey(k)
	case "EdDSA":
		_, k, _ := ed25519.GenerateKey(rand.Reader)
		material, err = x509.MarshalPKCS8PrivateKey(k)
	case "ECDH-P256", "ECDH-P384", "X25519":
		c := map[string]ecdh.Curve{"ECDH-P256": ecdh.P256(), "ECDH-P384": ecdh.P384(), "X25519": ecdh.X25519()}[alg]
		k, _ := c.GenerateKey(rand.Reader)
		material, err = x509.MarshalPKCS8PrivateKey(k)
	default:
		t.Fatalf("no import material for %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return "import:" + alg + ":" + hex.EncodeToString(material)
}

// specName is a hold spec without its import material: the name relguest
// prints it under.
func specName(spec string) string {
	if rest, ok := strings.CutPrefix(spec, "import:"); ok {
		alg, _, _ := strings.Cut(rest, ":")
		return "import:" + alg
	}
	return spec
}

// checkMix checks the output of `relguest mix rounds`: a verifying ES256
// signature per round, then the count of operations.
func checkMix(out string, rounds int) error {
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != rounds+1 {
		return fmt.Errorf("%d lines, want %d: %q", len(lines), rounds+1, out)
	}
	for _, line := range lines[:rounds] {
		f := strings.Fields(line)
		if len(f) != 4 || f[0] != "es256" {
			return fmt.Errorf("not a signature line: %q", line)
		}
		var b [3][]byte
		for i := range b {
			var err error
			if b[i], err = hex.DecodeString(f[i+1]); err != nil {
				return fmt.Errorf("%q: %w", line, err)
			}
		}
		pub, err := x509.ParsePKIXPublicKey(b[0])
		if err != nil {
			return fmt.Errorf("ES256 public key: %w", err)
		}
		ek, ok := pub.(*ecdsa.PublicKey)
		if !ok || len(b[2]) != 64 {
			return fmt.Errorf("ES256: key %T, signature of %d bytes", pub, len(b[2]))
		}
		h := sha256.Sum256(b[1])
		if !ecdsa.Verify(ek, h[:], new(big.Int).SetBytes(b[2][:32]), new(big.Int).SetBytes(b[2][32:])) {
			return fmt.Errorf("ES256 signature does not verify: %q", line)
		}
	}
	if want := fmt.Sprintf("ok %d ops", rounds*mixOpsPerRound); lines[rounds] != want {
		return fmt.Errorf("last line %q, want %q", lines[rounds], want)
	}
	return nil
}
