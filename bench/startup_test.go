package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasihsm/wasihsm/internal/testguest"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/softfallback"
	"github.com/wasihsm/wasihsm/wasihost"
)

// The wasihsm binary of this source tree, built once per process into
// binDir (removed by TestMain).
var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

// wasihsmBinary builds cmd/wasihsm (go build's cache makes a rebuild of
// unchanged sources a link).
func wasihsmBinary(tb testing.TB) string {
	tb.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "wasihsm-bench-"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "wasihsm")
		gobin := "go"
		if root := os.Getenv("GOROOT"); root != "" {
			if p := filepath.Join(root, "bin", "go"); fileExists(p) {
				gobin = p
			}
		}
		cmd := exec.Command(gobin, "build", "-o", binPath, "github.com/wasihsm/wasihsm/cmd/wasihsm")
		if msg, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build cmd/wasihsm: %v: %s", err, msg)
		}
	})
	if binErr != nil {
		tb.Fatalf("bench: %v", binErr)
	}
	return binPath
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// startupDigest is what the startup guest prints: SHA-256("wasihsm").
func startupDigest() string {
	d := sha256.Sum256([]byte("wasihsm"))
	return hex.EncodeToString(d[:])
}

// startupFixture is the startup guest written to a file, and a compilation
// cache directory that a first `wasihsm run` has filled.
type startupFixture struct {
	bin, module, cache string
	wasm               []byte
}

func newStartup(tb testing.TB) *startupFixture {
	tb.Helper()
	f := &startupFixture{bin: wasihsmBinary(tb), wasm: testguest.Build(tb, startupGuest)}
	dir := tb.TempDir()
	f.module, f.cache = filepath.Join(dir, "startup.wasm"), filepath.Join(dir, "cache")
	// A cache kept between runs, as testguest's: only the first run on a
	// machine compiles the guest.
	if base, err := os.UserCacheDir(); err == nil {
		f.cache = filepath.Join(base, "wasihsm", "bench-startup")
	}
	if err := os.WriteFile(f.module, f.wasm, 0o644); err != nil {
		tb.Fatal(err)
	}
	// The first run of each fills the cache. A test binary reads wazero's
	// version as "dev" and so keeps its compiled code in a subdirectory
	// of its own: the baseline fills that one.
	if _, err := f.run(); err != nil {
		tb.Fatalf("bench: %v", err)
	}
	if err := f.baseline(); err != nil {
		tb.Fatalf("bench: %v", err)
	}
	return f
}

// run starts `wasihsm run` of the startup guest and returns the time from
// the start of the process to the guest's first line, which it prints
// right after its first host call; then it waits for the process to end.
func (f *startupFixture) run() (time.Duration, error) {
	cmd := exec.Command(f.bin, "run", "--backend", "software", "--cache-dir", f.cache, f.module)
	cmd.Env = append(os.Environ(), "WASIHSM_CONFIG=")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	line, rerr := bufio.NewReader(out).ReadString('\n')
	elapsed := time.Since(t0)
	werr := cmd.Wait()
	switch {
	case rerr != nil || werr != nil:
		return 0, fmt.Errorf("wasihsm run: %v %v: %s", rerr, werr, stderr.String())
	case strings.TrimSpace(line) != startupDigest():
		return 0, fmt.Errorf("wasihsm run: the guest printed %q, want %s", line, startupDigest())
	}
	return elapsed, nil
}

// baseline is what the run cannot avoid: a runtime with the same on-disk
// compilation cache, compiling the module (from the cache) and
// instantiating it, with the imports it needs, without running it.
func (f *startupFixture) baseline() error { return f.inProcess(false) }

// inProcess is the baseline, and with start the guest's run too (its Go
// runtime starting, its first host call, its exit): what `wasihsm run`
// does in process, without the process.
func (f *startupFixture) inProcess(start bool) error {
	ctx := context.Background()
	cache, err := wazero.NewCompilationCacheWithDir(f.cache)
	if err != nil {
		return err
	}
	defer cache.Close(ctx)
	// The same configuration as the CLI: WithCloseOnContextDone changes
	// the compiled code, and so the cache key.
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(cache).WithCloseOnContextDone(true))
	defer r.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	router, err := provider.NewRouter(provider.RouterConfig{Primary: softfallback.New()})
	if err != nil {
		return err
	}
	host, err := wasihost.New(router, wasihost.Options{})
	if err != nil {
		return err
	}
	if err := host.Instantiate(ctx, r); err != nil {
		return err
	}
	wasm, err := os.ReadFile(f.module)
	if err != nil {
		return err
	}
	compiled, err := r.CompileModule(ctx, wasm)
	if err != nil {
		return err
	}
	cfg := wazero.NewModuleConfig().WithStartFunctions()
	var stdout strings.Builder
	if start {
		cfg = wazero.NewModuleConfig().WithStdout(&stdout).WithRandSource(rand.Reader).WithSysWalltime().WithSysNanotime()
	}
	mod, err := host.InstantiateGuest(ctx, r, compiled, cfg, provider.Guest{Name: "startup"})
	if exit := (*sys.ExitError)(nil); errors.As(err, &exit) && exit.ExitCode() == 0 {
		err = nil
	}
	if err != nil {
		return err
	}
	if start && strings.TrimSpace(stdout.String()) != startupDigest() {
		return fmt.Errorf("the guest printed %q, want %s", stdout.String(), startupDigest())
	}
	if mod == nil {
		return nil
	}
	return mod.Close(ctx)
}

// cacheFiles counts the files in the cache directory.
func (f *startupFixture) cacheFiles(tb testing.TB) int {
	n := 0
	err := filepath.WalkDir(f.cache, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// BenchmarkStartup is the second `wasihsm run` of a Go guest of 2.8 MB,
// from the start of the process to the guest's first host call, against
// wazero compiling it from the same cache and instantiating it alone.
// Goal: at most 1.5× the time.
func BenchmarkStartup(b *testing.B) {
	f := newStartup(b)
	for range *rounds {
		b.Run("wasihsm-run", func(b *testing.B) {
			var total time.Duration
			for range b.N {
				d, err := f.run()
				if err != nil {
					b.Fatal(err)
				}
				total += d
			}
			// Only the time to the first line counts, not the exit.
			b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "ns/op")
		})
		b.Run("compile-instantiate", func(b *testing.B) {
			for range b.N {
				if err := f.baseline(); err != nil {
					b.Fatal(err)
				}
			}
		})
		// Not a row: the same in process with the guest's own start-up
		// and run, which tells the process's share from the guest's.
		b.Run("in-process-run", func(b *testing.B) {
			for range b.N {
				if err := f.inProcess(true); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestStartup runs wasihsm and the baseline twice each on the startup
// guest, and checks that the second runs found the module in the cache
// (so both compare loading from the cache, not compiling).
func TestStartup(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cmd/wasihsm")
	}
	f := newStartup(t)
	files := f.cacheFiles(t)
	if files == 0 {
		t.Fatal("bench: the first runs left nothing in the compilation cache")
	}
	if _, err := f.run(); err != nil {
		t.Fatal(err)
	}
	if err := f.baseline(); err != nil {
		t.Fatal(err)
	}
	if err := f.inProcess(true); err != nil {
		t.Fatal(err)
	}
	if got := f.cacheFiles(t); got != files {
		t.Fatalf("bench: a second run wrote to the cache (%d files, then %d): it compiled instead of loading", files, got)
	}
}
