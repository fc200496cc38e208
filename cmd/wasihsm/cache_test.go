package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
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
	for p := range first {
		for d := filepath.Dir(p); d != dir; d = filepath.Dir(d) {
			fi, err := os.Stat(d)
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm(), "%s: the cache is its owner's alone", d)
		}
	}

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

// exitModule is a module whose _start calls proc_exit(code):
//
//	(module
//	  (import "wasi_snapshot_preview1" "proc_exit" (func (param i32)))
//	  (func (export "_start") (call 0 (i32.const CODE))))
//
// Two of them differ only in the code, so wazero compiles them alike and
// one's cache entry runs in the other's place.
func exitModule(code byte) []byte {
	i32 := byte(0x7f)
	return wasmModule(
		section(1, vec(funcType([]byte{i32}, nil), funcType(nil, nil))),
		section(2, vec(importFunc("wasi_snapshot_preview1", "proc_exit", 0))),
		section(3, vec([]byte{1})),
		section(7, vec(append(name("_start"), 0, 1))),
		section(10, vec(sized([]byte{0, 0x41, code, 0x10, 0, 0x0b}))),
	)
}

// cacheEntries returns the files of a compilation cache.
func cacheEntries(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	for p := range snapshot(t, dir) {
		files = append(files, p)
	}
	return files
}

// TestCachePlantedEntry plays another local user who could write the
// compilation cache: it puts b.wasm's compiled code under a.wasm's entry
// and leaves the cache as such a user could have. wasihsm run a.wasm does
// not use that cache: it says so once, and a.wasm's own code runs (exit
// 7, not b.wasm's 42).
func TestCachePlantedEntry(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// exposed leaves the cache (with the planted entry in place) as
		// the other user could have; entry is that entry.
		exposed func(cache, entry string) error
	}{
		{"cache writable by others", func(cache, _ string) error { return os.Chmod(cache, 0o777) }},
		{"cache writable by its group", func(cache, _ string) error { return os.Chmod(cache, 0o770) }},
		{"cache owned by another user", func(cache, _ string) error { return os.Chown(cache, 65534, 65534) }},
		{"version directory writable by others", func(_, entry string) error { return os.Chmod(filepath.Dir(entry), 0o777) }},
		{"version directory owned by another user", func(_, entry string) error { return os.Chown(filepath.Dir(entry), 65534, 65534) }},
		{"entry owned by another user", func(_, entry string) error { return os.Chown(entry, 65534, 65534) }},
		{"entry writable by others", func(_, entry string) error { return os.Chmod(entry, 0o666) }},
		{"entry a symbolic link", func(_, entry string) error {
			planted := filepath.Join(filepath.Dir(filepath.Dir(filepath.Dir(entry))), "elsewhere")
			if err := os.Rename(entry, planted); err != nil {
				return err
			}
			return os.Symlink(planted, entry)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			a, b := filepath.Join(dir, "a.wasm"), filepath.Join(dir, "b.wasm")
			require.NoError(t, os.WriteFile(a, exitModule(7), 0o644))
			require.NoError(t, os.WriteFile(b, exitModule(42), 0o644))
			cacheA, cacheB := filepath.Join(dir, "cache-a"), filepath.Join(dir, "cache-b")

			run := func(cache, module string) (int, string) {
				t.Helper()
				c, _, stderr := newTestCLI(nil)
				return runCLI(c, "run", "--backend", "software", "--cache-dir", cache, module), stderr.String()
			}
			code, stderr := run(cacheA, a)
			require.Equal(t, 7, code, stderr)
			code, stderr = run(cacheB, b)
			require.Equal(t, 42, code, stderr)

			entriesA, entriesB := cacheEntries(t, cacheA), cacheEntries(t, cacheB)
			require.Len(t, entriesA, 1)
			require.Len(t, entriesB, 1)
			planted, err := os.ReadFile(entriesB[0])
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(entriesA[0], planted, 0o600))
			require.NoError(t, tc.exposed(cacheA, entriesA[0]))

			code, stderr = run(cacheA, a)
			assert.Equal(t, 7, code, "a.wasm's own code runs, not the planted entry; stderr: %s", stderr)
			assert.Regexp(t, `^wasihsm: compilation cache `+regexp.QuoteMeta(cacheA)+` \(flag --cache-dir\) not used, compiling without it: `+
				`\S+: (owned by another user|writable by group or others|a symbolic link)[^\n]*whoever can write it chooses the code that runs[^\n]*\n$`, stderr)
		})
	}
}
