package bench

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasihsm/wasihsm/bench/internal/startup"
	"github.com/wasihsm/wasihsm/internal/testguest"
)

// The binaries of this source tree that the start-up benchmark runs,
// built once per process into binDir (removed by TestMain).
var (
	binMu   sync.Mutex
	binDir  string
	binPath = map[string]string{}
)

// wasihsmBinary is cmd/wasihsm, built.
func wasihsmBinary(tb testing.TB) string {
	return binary(tb, "github.com/wasihsm/wasihsm/cmd/wasihsm")
}

// binary builds the command pkg once per process (go build's cache makes
// a rebuild of unchanged sources a link) and returns its path.
func binary(tb testing.TB, pkg string) string {
	tb.Helper()
	binMu.Lock()
	defer binMu.Unlock()
	if p, ok := binPath[pkg]; ok {
		return p
	}
	if binDir == "" {
		dir, err := os.MkdirTemp("", "wasihsm-bench-")
		if err != nil {
			tb.Fatalf("bench: %v", err)
		}
		binDir = dir
	}
	p := filepath.Join(binDir, path.Base(pkg))
	gobin := "go"
	if root := os.Getenv("GOROOT"); root != "" {
		if g := filepath.Join(root, "bin", "go"); fileExists(g) {
			gobin = g
		}
	}
	cmd := exec.Command(gobin, "build", "-o", p, pkg)
	if msg, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("bench: go build %s: %v: %s", pkg, err, msg)
	}
	binPath[pkg] = p
	return p
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
	bin, baselineBin, module, cache string
	wasm                            []byte
}

func newStartup(tb testing.TB) *startupFixture {
	tb.Helper()
	f := &startupFixture{
		bin:         wasihsmBinary(tb),
		baselineBin: binary(tb, "github.com/wasihsm/wasihsm/bench/cmd/startupbaseline"),
		wasm:        testguest.Build(tb, startupGuest),
	}
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
	return timeToLine(cmd, startupDigest())
}

// baselineProcess runs the baseline in a process of its own
// (bench/cmd/startupbaseline) and returns the time from the start of the
// process to its line, printed once the module is instantiated.
func (f *startupFixture) baselineProcess() (time.Duration, error) {
	return timeToLine(exec.Command(f.baselineBin, "-cache-dir", f.cache, f.module), "instantiated")
}

// timeToLine starts cmd, times it from its start to its first line of
// output, which must be want, and waits for it to exit successfully.
func timeToLine(cmd *exec.Cmd, want string) (time.Duration, error) {
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
		return 0, fmt.Errorf("%s: %v %v: %s", filepath.Base(cmd.Path), rerr, werr, stderr.String())
	case strings.TrimSpace(line) != want:
		return 0, fmt.Errorf("%s printed %q, want %s", filepath.Base(cmd.Path), line, want)
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
	var stdout strings.Builder
	if err := startup.Load(context.Background(), f.cache, f.module, start, &stdout); err != nil {
		return err
	}
	if start && strings.TrimSpace(stdout.String()) != startupDigest() {
		return fmt.Errorf("the guest printed %q, want %s", stdout.String(), startupDigest())
	}
	return nil
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
		b.Run("wasihsm-run", func(b *testing.B) { timeToFirstLine(b, f.run) })
		b.Run("compile-instantiate", func(b *testing.B) {
			for range b.N {
				if err := f.baseline(); err != nil {
					b.Fatal(err)
				}
			}
		})
		// Not rows with goals: the same in process with the guest's own
		// start-up and run, which tells the process's share from the
		// guest's; and the baseline in a process of its own, which is
		// what a new process costs any wazero program.
		b.Run("in-process-run", func(b *testing.B) {
			for range b.N {
				if err := f.inProcess(true); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("compile-instantiate-process", func(b *testing.B) { timeToFirstLine(b, f.baselineProcess) })
	}
}

// timeToFirstLine runs start b.N times and reports as ns/op the mean of
// the times it returns, each a process's start to its first line: only
// that counts, not the process's exit.
func timeToFirstLine(b *testing.B, start func() (time.Duration, error)) {
	var total time.Duration
	for range b.N {
		d, err := start()
		if err != nil {
			b.Fatal(err)
		}
		total += d
	}
	b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "ns/op")
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
	if _, err := f.baselineProcess(); err != nil {
		t.Fatal(err)
	}
	if got := f.cacheFiles(t); got != files {
		t.Fatalf("bench: a second run wrote to the cache (%d files, then %d): it compiled instead of loading", files, got)
	}
}
