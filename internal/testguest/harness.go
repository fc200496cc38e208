package testguest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/wasihost"
)

// Harness is one wasihost.Host in one runtime, running one compiled guest
// the way `wasihsm run` does (WASI preview1 with clocks and random, both
// crypto modules).
type Harness struct {
	t        testing.TB
	Runtime  wazero.Runtime
	Host     *wasihost.Host
	Compiled wazero.CompiledModule
}

// NewHarness compiles wasm into a new runtime with a host serving p.
func NewHarness(t testing.TB, p provider.Provider, opts wasihost.Options, wasm []byte) *Harness {
	t.Helper()
	ctx := context.Background()
	host, err := wasihost.New(p, opts)
	if err != nil {
		t.Fatalf("testguest: %v", err)
	}
	rt := NewRuntime(t)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	if err := host.Instantiate(ctx, rt); err != nil {
		t.Fatalf("testguest: %v", err)
	}
	compiled, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		t.Fatalf("testguest: compile: %v", err)
	}
	return &Harness{t: t, Runtime: rt, Host: host, Compiled: compiled}
}

// Result is what a guest run produced.
type Result struct {
	Stdout, Stderr string
	ExitCode       uint32
}

// Run instantiates the guest as guest (its module name for managed-key
// rules) with args, env and stdin (nil: empty), waits for it to exit and
// closes it. A trap or instantiation error fails the test.
func (h *Harness) Run(guest string, stdin io.Reader, env map[string]string, args ...string) Result {
	h.t.Helper()
	var stdout, stderr bytes.Buffer
	if stdin == nil {
		stdin = bytes.NewReader(nil)
	}
	cfg := wazero.NewModuleConfig().
		WithName("").
		WithArgs(append([]string{guest}, args...)...).
		WithStdin(stdin).WithStdout(&stdout).WithStderr(&stderr).
		WithSysWalltime().WithSysNanotime().WithRandSource(rand.Reader)
	for k, v := range env {
		cfg = cfg.WithEnv(k, v)
	}
	code, err := h.runModule(cfg, guest)
	if err != nil {
		h.t.Fatalf("guest %s %v: %v\nstderr: %s", guest, args, err, stderr.String())
	}
	return Result{Stdout: stdout.String(), Stderr: stderr.String(), ExitCode: code}
}

// runModule instantiates the guest as the embedder named guest, runs it to
// its end and closes it. It returns the exit code, or the error of a guest
// that did not instantiate (a trap, a failed start).
func (h *Harness) runModule(cfg wazero.ModuleConfig, guest string) (uint32, error) {
	ctx := context.Background()
	mod, err := h.Host.InstantiateGuest(ctx, h.Runtime, h.Compiled, cfg, provider.Guest{Name: guest})
	if mod != nil {
		_ = mod.Close(ctx)
	}
	var exit *sys.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitCode(), nil
	case err != nil:
		return 0, err
	}
	return 0, nil
}
