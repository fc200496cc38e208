// Package startup is the baseline of the start-up benchmark: what
// `wasihsm run` cannot avoid before a guest's first host call. Load makes
// a wazero runtime with the CLI's configuration and an on-disk
// compilation cache, compiles a module from that cache and instantiates
// it with the host's modules (wasi and wasi_ephemeral_crypto on the
// software backend).
//
// The benchmark runs it in its own process (as a warm baseline, the
// issue's) and through bench/cmd/startupbaseline in a process of its own,
// which tells what a new process costs from what wasihsm does.
package startup

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasihsm/wasihsm/internal/compcache"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/softfallback"
	"github.com/wasihsm/wasihsm/wasihost"
)

// Load compiles the module at path from the compilation cache in
// cacheDir and instantiates it. With run, the guest also runs (its start
// function, with stdout as its standard output) until it exits; a
// non-zero exit is an error. Without run, the instance is made without
// calling its start function.
func Load(ctx context.Context, cacheDir, path string, run bool, stdout io.Writer) error {
	// The module first: a path that cannot be read leaves no cache
	// directory behind.
	wasm, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("startup: %w", err)
	}
	cache, err := compcache.Open(cacheDir)
	if err != nil {
		return fmt.Errorf("startup: compilation cache %s: %w", cacheDir, err)
	}
	defer cache.Close(ctx)
	// The same configuration as the CLI: WithCloseOnContextDone changes
	// the compiled code, and so the cache key.
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(cache).WithCloseOnContextDone(true))
	defer r.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	router, err := provider.NewRouter(provider.RouterConfig{Primary: softfallback.New()})
	if err != nil {
		return fmt.Errorf("startup: %w", err)
	}
	host, err := wasihost.New(router, wasihost.Options{})
	if err != nil {
		return fmt.Errorf("startup: %w", err)
	}
	if err := host.Instantiate(ctx, r); err != nil {
		return fmt.Errorf("startup: %w", err)
	}
	compiled, err := r.CompileModule(ctx, wasm)
	if err != nil {
		return fmt.Errorf("startup: compile %s: %w", path, err)
	}
	cfg := wazero.NewModuleConfig().WithStartFunctions()
	if run {
		cfg = wazero.NewModuleConfig().WithStdout(stdout).WithRandSource(rand.Reader).WithSysWalltime().WithSysNanotime()
	}
	mod, err := host.InstantiateGuest(ctx, r, compiled, cfg, provider.Guest{Name: "startup"})
	if exit := (*sys.ExitError)(nil); errors.As(err, &exit) && exit.ExitCode() == 0 {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("startup: instantiate %s: %w", path, err)
	}
	if mod == nil {
		return nil
	}
	return mod.Close(ctx)
}
