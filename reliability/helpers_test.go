package reliability_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
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
