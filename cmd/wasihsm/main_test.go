package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/tetratelabs/wazero"

	"github.com/wasihsm/wasihsm/internal/softhsmtest"
	"github.com/wasihsm/wasihsm/internal/testguest"
	"github.com/wasihsm/wasihsm/internal/tokentest"
)

const (
	probePath    = "github.com/wasihsm/wasihsm/cmd/wasihsm/testdata/guests/probe"
	dirguestPath = "github.com/wasihsm/wasihsm/cmd/wasihsm/testdata/guests/dirguest"
)

// TestMain lets the test binary act as the wasihsm command in scripts.
func TestMain(m *testing.M) {
	testscript.Main(stopTokensAfter{m}, map[string]func(){"wasihsm": main})
	// testscript.Main exits; the SoftHSM2 token directory is removed by
	// the OS's temp cleaning (softhsmtest.Shutdown cannot run here).
}

// stopTokensAfter runs the tests, then stops the tokens of
// internal/tokentest that they started: several tests use the same
// process-wide tokens, so none of them may stop them itself.
type stopTokensAfter struct{ m *testing.M }

// Run implements testscript.TestingM.
func (s stopTokensAfter) Run() int {
	code := s.m.Run()
	tokentest.Shutdown()
	return code
}

// TestScripts runs the scripts in testdata/script: the CLI as a user types
// it. Each script's work directory holds the guests of fixtures(), and
// XDG_CACHE_HOME points to a cache that all scripts share, so that the
// probe guest is compiled once.
//
// Each script has a SoftHSM2 token of its own, made in $WORK/.softhsm and
// named by SOFTHSM2_CONF and the SOFTHSM_* variables: the scripts run in
// parallel, and a wasihsm or pkcs11-tool process that logs in to a token
// makes another process that loads the same token at that moment miss it
// (see softhsmtest.Fixture.Separate).
func TestScripts(t *testing.T) {
	files := fixtures(t)
	process := softhsmtest.Token(t) // finds SoftHSM2; the scripts' tokens are separate
	cacheHome := sharedCacheHome(t)
	warmCache(t, filepath.Join(cacheHome, "wasihsm", "wazero"), files["probe.wasm"])
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "script"),
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Setup: func(e *testscript.Env) error {
			for name, b := range files {
				if err := os.WriteFile(filepath.Join(e.WorkDir, name), b, 0o644); err != nil {
					return err
				}
			}
			e.Setenv("XDG_CACHE_HOME", cacheHome)
			token, err := process.Separate(filepath.Join(e.WorkDir, ".softhsm"))
			if err != nil {
				return err
			}
			e.Setenv("SOFTHSM2_CONF", token.ConfPath)
			e.Setenv("SOFTHSM_MODULE", token.Module)
			e.Setenv("SOFTHSM_LABEL", token.Label)
			e.Setenv("SOFTHSM_PIN", token.PIN)
			e.Setenv("SOFTHSM_TOKENDIR", token.TokenDir)
			e.Setenv("SOFTHSM_SOPIN", token.SOPIN)
			e.Setenv("SOFTHSM_SERIAL0", token.Serial)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode": cmdExitCode,
			"replica":  cmdReplica,
		},
	})
}

// cmdExitCode runs a program and checks its exit code, which exec cannot:
//
//	exitcode 3 wasihsm run probe.wasm exit 3
//
// stdout and stderr are then the program's, for the commands that follow.
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode CODE PROGRAM [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: %v", err)
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			ts.Fatalf("exitcode: %v", err)
		}
		got = exit.ExitCode()
	}
	if got != want {
		ts.Fatalf("exit code %d, want %d", got, want)
	}
}

// cmdReplica makes another token beside the script's, in its SoftHSM2
// directory, with the same label and PINs (a replica, as a group of
// tokens has them), and sets SOFTHSM_SERIALn to its serial, n counting
// from 1 (SOFTHSM_SERIAL0 is the script's token):
//
//	replica
func cmdReplica(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: replica")
	}
	// The script's environment names its SoftHSM2 directory.
	util := func(args ...string) *exec.Cmd {
		cmd := exec.Command("softhsm2-util", args...)
		cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+ts.Getenv("SOFTHSM2_CONF"))
		return cmd
	}
	showSlots := func() string {
		out, err := util("--show-slots").CombinedOutput()
		if err != nil {
			ts.Fatalf("replica: softhsm2-util --show-slots: %v\n%s", err, out)
		}
		return string(out)
	}
	before := showSlots()
	out, err := util("--init-token", "--free", "--label", ts.Getenv("SOFTHSM_LABEL"),
		"--pin", ts.Getenv("SOFTHSM_PIN"), "--so-pin", ts.Getenv("SOFTHSM_SOPIN")).CombinedOutput()
	if err != nil {
		ts.Fatalf("replica: softhsm2-util --init-token: %v\n%s", err, out)
	}
	after := showSlots()
	serial := ""
	for _, line := range strings.Split(after, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "Serial number" {
			if s := strings.TrimSpace(v); s != "" && !strings.Contains(before, s) {
				serial = s
			}
		}
	}
	if serial == "" {
		ts.Fatalf("replica: no new serial in softhsm2-util --show-slots")
	}
	n := 1
	for ts.Getenv(fmt.Sprintf("SOFTHSM_SERIAL%d", n)) != "" {
		n++
	}
	ts.Setenv(fmt.Sprintf("SOFTHSM_SERIAL%d", n), serial)
}

// sharedCacheHome returns the XDG_CACHE_HOME of the scripts: the test
// cache of this user, so that a second `go test` compiles nothing, or else
// a temporary directory.
func sharedCacheHome(t *testing.T) string {
	if base, err := os.UserCacheDir(); err == nil {
		dir := filepath.Join(base, "wasihsm", "test-cli")
		if err := os.MkdirAll(dir, 0o755); err == nil {
			return dir
		}
	}
	return t.TempDir()
}

// warmCache compiles wasm into the compilation cache at dir once, before
// the scripts start in parallel and would each compile it.
func warmCache(t *testing.T, dir string, wasm []byte) {
	t.Helper()
	ctx := context.Background()
	cache, err := wazero.NewCompilationCacheWithDir(dir)
	if err != nil {
		t.Logf("no shared compilation cache: %v", err)
		return
	}
	defer cache.Close(ctx)
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(cache))
	defer r.Close(ctx)
	if _, err := r.CompileModule(ctx, wasm); err != nil {
		t.Fatalf("compile probe.wasm: %v", err)
	}
}

// fixtures returns the modules every script finds in its work directory.
func fixtures(t *testing.T) map[string][]byte {
	t.Helper()
	i32 := byte(0x7f)
	probe := testguest.Build(t, probePath)
	return map[string][]byte{
		// The Go guest of testdata/guests/probe.
		"probe.wasm": probe,
		// The same code in other bytes: a name section of its own, which
		// claims the module name probe.wasm.
		"probe-other.wasm": testguest.WithModuleName(t, probe, "probe.wasm"),
		// The Go guest of testdata/guests/dirguest: --dir, honest and hostile.
		"dirguest.wasm": testguest.Build(t, dirguestPath),
		// (module (func (export "_start") unreachable))
		"trap.wasm": wasmModule(
			section(1, vec(funcType(nil, nil))),
			section(3, vec([]byte{0})),
			section(7, vec(append(name("_start"), 0, 0))),
			section(10, vec(sized([]byte{0, 0x00, 0x0b}))),
		),
		// (module (import "env" "f" (func)))
		"import.wasm": wasmModule(
			section(1, vec(funcType(nil, nil))),
			section(2, vec(importFunc("env", "f", 0))),
		),
		// (module (import "wasi_snapshot_preview1" "proc_exit" (func (param i32 i32))))
		"signature.wasm": wasmModule(
			section(1, vec(funcType([]byte{i32, i32}, nil))),
			section(2, vec(importFunc("wasi_snapshot_preview1", "proc_exit", 0))),
		),
		// (module (import "wasi_ephemeral_crypto" "no_such_function" (func)))
		"crypto_import.wasm": wasmModule(
			section(1, vec(funcType(nil, nil))),
			section(2, vec(importFunc("wasi_ephemeral_crypto", "no_such_function", 0))),
		),
		// (module (func (export "_start")))
		"nop.wasm": wasmModule(
			section(1, vec(funcType(nil, nil))),
			section(3, vec([]byte{0})),
			section(7, vec(append(name("_start"), 0, 0))),
			section(10, vec(sized([]byte{0, 0x0b}))),
		),
		// (module) with no _start: nothing to run
		"empty.wasm": wasmModule(),
	}
}

// A few helpers to write tiny modules by hand (every length < 128, so each
// LEB128 is one byte).

func wasmModule(sections ...[]byte) []byte {
	b := []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}
	for _, s := range sections {
		b = append(b, s...)
	}
	return b
}

func section(id byte, body []byte) []byte { return append([]byte{id}, sized(body)...) }

func sized(b []byte) []byte {
	if len(b) >= 128 {
		panic(fmt.Sprintf("wasm fixture: %d bytes is too long for one LEB128 byte", len(b)))
	}
	return append([]byte{byte(len(b))}, b...)
}

func vec(items ...[]byte) []byte {
	b := []byte{byte(len(items))}
	for _, it := range items {
		b = append(b, it...)
	}
	return b
}

func name(s string) []byte { return sized([]byte(s)) }

func funcType(params, results []byte) []byte {
	b := append([]byte{0x60}, sized(params)...)
	return append(b, sized(results)...)
}

func importFunc(module, field string, typeIndex byte) []byte {
	b := append(name(module), name(field)...)
	return append(b, 0x00, typeIndex)
}

// newTestCLI returns a cli with no environment that writes to buffers.
func newTestCLI(env map[string]string) (*cli, *testguest.LockedBuffer, *testguest.LockedBuffer) {
	var stdout, stderr testguest.LockedBuffer
	return &cli{
		stdin:  emptyReader{},
		stdout: &stdout,
		stderr: &stderr,
		lookupEnv: func(k string) (string, bool) {
			v, ok := env[k]
			return v, ok
		},
	}, &stdout, &stderr
}

// runCLI runs args in process.
func runCLI(c *cli, args ...string) int { return c.run(context.Background(), args) }
