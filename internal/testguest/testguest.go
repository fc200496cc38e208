// Package testguest builds Go packages into wasm guests for tests, and shares
// one wazero compilation cache between test processes, so that a suite that
// runs real guests stays fast.
//
// # Caching
//
// A guest is built once per test process (go build's own cache makes a
// rebuild of unchanged sources a quick link). Compiled machine code is kept
// by wazero in a directory under the user cache dir, keyed by wazero on the
// module's bytes, so a second `go test` run does not compile again.
package testguest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"
)

type buildResult struct {
	once sync.Once
	wasm []byte
	err  error
}

var builds sync.Map // import path → *buildResult

// Build compiles the Go package at importPath (a full import path, e.g.
// "github.com/wasihsm/wasihsm/examples/jws") with GOOS=wasip1 GOARCH=wasm
// and returns the wasm bytes. It fails the test when the build fails.
func Build(t testing.TB, importPath string) []byte {
	t.Helper()
	v, _ := builds.LoadOrStore(importPath, &buildResult{})
	r := v.(*buildResult)
	r.once.Do(func() { r.wasm, r.err = build(importPath) })
	if r.err != nil {
		t.Fatalf("testguest: build %s: %v", importPath, r.err)
	}
	return r.wasm
}

func build(importPath string) ([]byte, error) {
	dir, err := os.MkdirTemp("", "wasihsm-guest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "guest.wasm")
	cmd := exec.Command(goTool(), "build", "-o", out, importPath)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%v: %s", err, strings.TrimSpace(string(msg)))
	}
	return os.ReadFile(out)
}

func goTool() string {
	if goroot := os.Getenv("GOROOT"); goroot != "" {
		if p := filepath.Join(goroot, "bin", "go"); fileExists(p) {
			return p
		}
	}
	return "go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

var (
	cacheOnce sync.Once
	cache     wazero.CompilationCache
)

// CompilationCache returns a wazero compilation cache shared by every test
// process of this user (on disk), falling back to an in-memory cache when no
// cache directory is available. Do not close it.
func CompilationCache() wazero.CompilationCache {
	cacheOnce.Do(func() {
		base, err := os.UserCacheDir()
		if err == nil {
			cache, err = wazero.NewCompilationCacheWithDir(filepath.Join(base, "wasihsm", "test-wazero"))
		}
		if err != nil || cache == nil {
			cache = wazero.NewCompilationCache()
		}
	})
	return cache
}

// NewRuntime returns a wazero runtime using the shared compilation cache; it
// is closed when the test ends.
func NewRuntime(t testing.TB) wazero.Runtime {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().
		WithCompilationCache(CompilationCache()).
		WithCloseOnContextDone(true))
	t.Cleanup(func() { _ = r.Close(ctx) })
	return r
}
