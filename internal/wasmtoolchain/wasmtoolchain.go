// Package wasmtoolchain builds the repository's C and Rust guests for
// wasm32-wasi, for tests and benchmarks: C with clang, lld and wasi-libc
// (Debian: clang, lld, wasi-libc, libclang-rt-dev-wasm32), Rust with
// Debian's cargo and rustc (/usr/bin/cargo, /usr/bin/rustc with
// libstd-rust-dev-wasm32), offline. A rustc elsewhere on PATH (rustup's,
// say) is not used: it may have no wasm32-wasi standard library.
//
// A missing toolchain skips the test that needs it, or fails it when
// CI=true (.ci/run installs them). Builds are cached for the process.
package wasmtoolchain

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// ErrMissing is wrapped by the errors that say a toolchain is not
// installed.
var ErrMissing = errors.New("wasmtoolchain: toolchain missing")

// Debian's Rust toolchain, the one with a wasm32-wasi standard library.
const (
	debianCargo = "/usr/bin/cargo"
	debianRustc = "/usr/bin/rustc"
)

// Root returns the module's root directory, found from the working
// directory upwards.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("wasmtoolchain: %w", err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.HasPrefix(b, []byte("module github.com/wasihsm/wasihsm\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("wasmtoolchain: no module root above the working directory")
		}
		dir = parent
	}
}

var clangOnce = sync.OnceValues(findClang)

// Clang returns the clang that builds wasm32-wasi programs with the WASI
// libc: it compiles and links a small C program to check.
func Clang() (string, error) { return clangOnce() }

func findClang() (string, error) {
	var clang string
	for _, name := range []string{"clang", "clang-14", "clang-15", "clang-16"} {
		if p, err := exec.LookPath(name); err == nil {
			clang = p
			break
		}
	}
	if clang == "" {
		return "", fmt.Errorf("%w: no clang on PATH (Debian: apt-get install clang lld wasi-libc libclang-rt-dev-wasm32)", ErrMissing)
	}
	dir, err := os.MkdirTemp("", "wasmtoolchain-probe-")
	if err != nil {
		return "", fmt.Errorf("wasmtoolchain: %w", err)
	}
	defer os.RemoveAll(dir)
	src := filepath.Join(dir, "probe.c")
	if err := os.WriteFile(src, []byte("#include <stdio.h>\nint main(void) { puts(\"ok\"); return 0; }\n"), 0o644); err != nil {
		return "", fmt.Errorf("wasmtoolchain: %w", err)
	}
	out, err := exec.Command(clang, "--target=wasm32-wasi", "-O2", "-o", filepath.Join(dir, "probe.wasm"), src).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%w: %s cannot build for wasm32-wasi (Debian: apt-get install lld wasi-libc libclang-rt-dev-wasm32): %v: %s",
			ErrMissing, clang, err, strings.TrimSpace(string(out)))
	}
	return clang, nil
}

var rustOnce = sync.OnceValues(findRust)

// Cargo returns Debian's cargo, after checking that Debian's rustc has
// the wasm32-wasi standard library.
func Cargo() (string, error) { return rustOnce() }

func findRust() (string, error) {
	for _, p := range []string{debianCargo, debianRustc} {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%w: %s (Debian: apt-get install rustc cargo libstd-rust-dev-wasm32)", ErrMissing, p)
		}
	}
	out, err := exec.Command(debianRustc, "--print", "target-libdir", "--target", "wasm32-wasi").Output()
	if err != nil {
		return "", fmt.Errorf("%w: %s knows no wasm32-wasi: %v", ErrMissing, debianRustc, err)
	}
	libs, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(out)), "libstd-*.rlib"))
	if len(libs) == 0 {
		return "", fmt.Errorf("%w: no wasm32-wasi standard library for %s (Debian: apt-get install libstd-rust-dev-wasm32)", ErrMissing, debianRustc)
	}
	return debianCargo, nil
}

// NeedClang returns the clang of [Clang], or skips tb (fails it with
// CI=true) when there is none.
func NeedClang(tb testing.TB) string {
	tb.Helper()
	clang, err := Clang()
	needs(tb, err)
	return clang
}

// needs skips tb (fails it with CI=true) when err says a toolchain is
// missing, and fails it for any other error.
func needs(tb testing.TB, err error) {
	tb.Helper()
	switch {
	case err == nil:
	case errors.Is(err, ErrMissing) && os.Getenv("CI") != "true":
		tb.Skip(err)
	case errors.Is(err, ErrMissing):
		tb.Fatalf("%v (CI=true: the guest toolchains must be installed; .ci/run installs them)", err)
	default:
		tb.Fatal(err)
	}
}

var (
	cacheMu sync.Mutex
	cache   = map[string][]byte{}
)

func cached(key string, build func() ([]byte, error)) ([]byte, error) {
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if b, ok := cache[key]; ok {
		return b, nil
	}
	b, err := build()
	if err == nil {
		cache[key] = b
	}
	return b, err
}

// C builds the C sources (paths relative to the module root) into one
// wasm32-wasi module, with guest/c (the SDK header) on the include path,
// -O2 and warnings as errors.
func C(tb testing.TB, sources ...string) []byte {
	tb.Helper()
	clang, err := Clang()
	needs(tb, err)
	root, err := Root()
	needs(tb, err)
	wasm, err := cached("c\x00"+strings.Join(sources, "\x00"), func() ([]byte, error) {
		return BuildC(clang, root, sources...)
	})
	needs(tb, err)
	return wasm
}

// BuildC is C without a test: clang is from [Clang], root from [Root].
func BuildC(clang, root string, sources ...string) ([]byte, error) {
	dir, err := os.MkdirTemp("", "wasmtoolchain-c-")
	if err != nil {
		return nil, fmt.Errorf("wasmtoolchain: %w", err)
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "guest.wasm")
	args := []string{"--target=wasm32-wasi", "-O2", "-Wall", "-Wextra", "-Werror", "-I", filepath.Join(root, "guest", "c"), "-o", out}
	for _, s := range sources {
		args = append(args, filepath.Join(root, filepath.FromSlash(s)))
	}
	if msg, err := exec.Command(clang, args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("wasmtoolchain: clang %s: %v: %s", strings.Join(sources, " "), err, msg)
	}
	return os.ReadFile(out)
}

// Rust builds a Rust package (its directory relative to the module root)
// for wasm32-wasi in release mode, offline and with its Cargo.lock as it
// is, and returns the module of its binary, or of its example when
// example is not "".
func Rust(tb testing.TB, pkg, example string) []byte {
	tb.Helper()
	cargo, err := Cargo()
	needs(tb, err)
	root, err := Root()
	needs(tb, err)
	wasm, err := cached("rust\x00"+pkg+"\x00"+example, func() ([]byte, error) {
		return BuildRust(cargo, root, pkg, example)
	})
	needs(tb, err)
	return wasm
}

// BuildRust is Rust without a test: cargo is from [Cargo], root from [Root].
func BuildRust(cargo, root, pkg, example string) ([]byte, error) {
	dir, err := os.MkdirTemp("", "wasmtoolchain-rust-")
	if err != nil {
		return nil, fmt.Errorf("wasmtoolchain: %w", err)
	}
	defer os.RemoveAll(dir)
	args := []string{"build", "--offline", "--locked", "--release", "--quiet", "--target", "wasm32-wasi",
		"--manifest-path", filepath.Join(root, filepath.FromSlash(pkg), "Cargo.toml")}
	if example != "" {
		args = append(args, "--example", example)
	}
	cmd := exec.Command(cargo, args...)
	cmd.Env = append(os.Environ(), "CARGO_TARGET_DIR="+dir, "RUSTC="+debianRustc,
		"PATH="+filepath.Dir(debianRustc)+string(os.PathListSeparator)+os.Getenv("PATH"))
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("wasmtoolchain: cargo build %s %s: %v: %s", pkg, example, err, msg)
	}
	release := filepath.Join(dir, "wasm32-wasi", "release")
	if example != "" {
		return os.ReadFile(filepath.Join(release, "examples", example+".wasm"))
	}
	wasms, _ := filepath.Glob(filepath.Join(release, "*.wasm"))
	if len(wasms) != 1 {
		return nil, fmt.Errorf("wasmtoolchain: cargo build %s: %d modules, want one binary", pkg, len(wasms))
	}
	return os.ReadFile(wasms[0])
}
