package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fileState is what a second run must not change about a cache file.
type fileState struct {
	size    int64
	modTime time.Time
}

func snapshot(t *testing.T, dir string) map[string]fileState {
	t.Helper()
	files := map[string]fileState{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		files[p] = fileState{fi.Size(), fi.ModTime()}
		return nil
	})
	require.NoError(t, err)
	return files
}

// TestCompilationCache runs one module twice with --cache-dir: the first
// run fills the cache, the second finds the module there and writes
// nothing. --no-cache does not touch the directory at all.
func TestCompilationCache(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// A tiny module: the cache works the same for any, and compiling the
	// probe guest takes half a minute under the race detector.
	module := filepath.Join(dir, "nop.wasm")
	require.NoError(t, os.WriteFile(module, fixtures(t)["nop.wasm"], 0o644))
	cache := filepath.Join(dir, "cache")

	run := func(args ...string) {
		t.Helper()
		c, _, stderr := newTestCLI(nil)
		code := runCLI(c, append([]string{"run", "--backend", "software"}, args...)...)
		require.Equal(t, 0, code, "stderr: %s", stderr)
		require.Empty(t, stderr.String())
	}

	run("--cache-dir", cache, module)
	first := snapshot(t, cache)
	require.NotEmpty(t, first, "the first run leaves the compiled module in the cache")

	run("--cache-dir", cache, module)
	assert.Equal(t, first, snapshot(t, cache), "the second run compiles nothing")

	noCache := filepath.Join(dir, "unused")
	run("--no-cache", "--cache-dir", noCache, module)
	assert.NoDirExists(t, noCache)
}

// TestCacheUnusable goes on without a cache that cannot be made, and says
// so once.
func TestCacheUnusable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	module := filepath.Join(dir, "empty.wasm")
	require.NoError(t, os.WriteFile(module, wasmModule(), 0o644))
	blocker := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(blocker, nil, 0o644))

	c, _, stderr := newTestCLI(nil)
	code := runCLI(c, "run", "--backend", "software", "--cache-dir", filepath.Join(blocker, "cache"), module)
	assert.Equal(t, 0, code)
	assert.Equal(t, "wasihsm: compilation cache "+filepath.Join(blocker, "cache")+
		" (flag --cache-dir) unusable, compiling without it: not a directory\n", stderr.String())
}
