package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasihsm/wasihsm/internal/compcache"
	"github.com/wasihsm/wasihsm/internal/config"
	"github.com/wasihsm/wasihsm/internal/rootfs"
	"github.com/wasihsm/wasihsm/internal/trusted"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/wasihost"
)

// guestRun is everything runGuest needs.
type guestRun struct {
	settings config.Settings
	flags    *runFlags
	provider provider.Provider
	logger   *slog.Logger
	observer wasihost.Observer // of every host call; nil for none
	wasm     []byte
	notice   bool // print softwareNotice when the guest starts
}

// runGuest compiles and runs the guest and returns the process exit code.
func (c *cli) runGuest(ctx context.Context, g guestRun) int {
	name := filepath.Base(g.flags.module)

	rcfg := wazero.NewRuntimeConfig().WithCloseOnContextDone(true).
		WithMemoryLimitPages(g.settings.Limits.MemoryLimitPages())
	if dir := g.settings.CacheDir; dir != "" && !g.flags.noCache {
		if cache := c.openCache(dir, g.settings.Origin(config.FieldCacheDir)); cache != nil {
			defer cache.Close(ctx)
			rcfg = rcfg.WithCompilationCache(cache)
		}
	}
	r := wazero.NewRuntimeWithConfig(ctx, rcfg)
	defer r.Close(ctx)

	host, err := wasihost.New(g.provider, wasihost.Options{
		MaxHandles:       g.settings.Limits.MaxHandles,
		MaxBufferedBytes: g.settings.Limits.MaxBufferedBytes,
		MaxInstanceBytes: g.settings.Limits.MaxInstanceBytes,
		Logger:           g.logger,
		Observer:         g.observer,
	})
	if err != nil {
		return c.errorf(exitInternal, "%v", err)
	}
	defer host.Close(ctx)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r); err != nil {
		return c.errorf(exitInternal, "%v", err)
	}
	if err := host.Instantiate(ctx, r); err != nil {
		return c.errorf(exitInternal, "%v", err)
	}

	compiled, err := r.CompileModule(ctx, g.wasm)
	if err != nil {
		return c.errorf(exitNoRun, "%s: not a WebAssembly module wasihsm can run: %v", g.flags.module, err)
	}
	if err := checkImports(r, compiled); err != nil {
		return c.errorf(exitNoRun, "%s: %v", g.flags.module, err)
	}

	runCtx := ctx
	if g.flags.timeout > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, g.flags.timeout)
		defer cancel()
	}
	mcfg := wazero.NewModuleConfig().
		WithName(name).
		WithArgs(append([]string{name}, g.flags.args...)...).
		WithStdin(c.stdin).
		WithStdout(c.stdout).
		WithStderr(c.stderr).
		WithSysWalltime().
		WithSysNanotime().
		// Not WithSysNanosleep: a guest asleep in poll_oneoff must wake
		// when the run is cancelled, and time.Sleep would not.
		WithNanosleep(func(ns int64) { sleep(runCtx, time.Duration(ns)) }).
		WithOsyield(runtime.Gosched).
		WithRandSource(rand.Reader)
	for _, e := range g.flags.env {
		mcfg = mcfg.WithEnv(e.name, e.value)
	}
	if len(g.flags.mounts) > 0 {
		// Each mount is an os.Root, which the guest cannot leave; wazero's
		// WithDirMount would follow the guest's symbolic links anywhere.
		fsc := wazero.NewFSConfig()
		for _, m := range g.flags.mounts {
			fsys, err := rootfs.Open(m.host, m.mode)
			if err != nil {
				return c.errorf(exitUsage, "--dir %s: %v", m.spec, unwrapPath(err))
			}
			defer fsys.Close()
			fsc = fsc.(sysfs.FSConfig).WithSysFSMount(fsys, m.guest)
		}
		mcfg = mcfg.WithFSConfig(fsc)
	}

	if g.notice {
		c.sayf("%s", softwareNotice)
	}
	sum := sha256.Sum256(g.wasm)
	mod, err := host.InstantiateGuest(runCtx, r, compiled, mcfg, provider.Guest{Name: name, SHA256: hex.EncodeToString(sum[:])})
	if mod != nil {
		defer mod.Close(ctx)
	}
	return c.guestExit(runCtx, g, err)
}

// guestExit turns the outcome of the guest's run into the exit code.
func (c *cli) guestExit(runCtx context.Context, g guestRun, err error) int {
	if errors.Is(runCtx.Err(), context.DeadlineExceeded) {
		return c.errorf(exitTimeout, "%s: timed out after %v (--timeout)", g.flags.module, g.flags.timeout)
	}
	var exit *sys.ExitError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &exit):
		code := exit.ExitCode()
		if code > exitMaxGuest {
			return c.errorf(exitMaxGuest, "%s: exit code %d does not fit an exit status; reporting %d", g.flags.module, code, exitMaxGuest)
		}
		return int(code)
	}
	// The first line says what failed; the rest is wazero's stack trace,
	// printed as it is.
	first, trace, _ := strings.Cut(err.Error(), "\n")
	c.sayf("%s: the guest failed: %s", g.flags.module, first)
	if trace != "" {
		fmt.Fprintln(c.stderr, strings.TrimRight(trace, "\n"))
	}
	return exitTrap
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// checkImports reports an import that the runtime cannot satisfy, so that
// a module that cannot link is told apart from a guest that fails.
func checkImports(r wazero.Runtime, compiled wazero.CompiledModule) error {
	for _, def := range compiled.ImportedFunctions() {
		modName, fnName, _ := def.Import()
		m := r.Module(modName)
		if m == nil {
			return fmt.Errorf("imports %s.%s, but wasihsm provides no module %q", modName, fnName, modName)
		}
		have, ok := m.ExportedFunctionDefinitions()[fnName]
		if !ok {
			return fmt.Errorf("imports %s.%s, which %s does not have", modName, fnName, modName)
		}
		if !slices.Equal(have.ParamTypes(), def.ParamTypes()) || !slices.Equal(have.ResultTypes(), def.ResultTypes()) {
			return fmt.Errorf("imports %s.%s as %s, but it is %s", modName, fnName, signature(def), signature(have))
		}
	}
	for _, def := range compiled.ImportedMemories() {
		modName, name, _ := def.Import()
		return fmt.Errorf("imports the memory %s.%s; wasihsm provides none", modName, name)
	}
	return nil
}

func signature(def api.FunctionDefinition) string {
	names := func(ts []api.ValueType) string {
		s := "("
		for i, t := range ts {
			if i > 0 {
				s += ", "
			}
			s += api.ValueTypeName(t)
		}
		return s + ")"
	}
	return "func" + names(def.ParamTypes()) + " -> " + names(def.ResultTypes())
}

// openCache opens the compilation cache in dir (from origin), or returns
// nil when there is none to use. A cache that cannot be opened only costs
// time, and so does one that another user could have written (which
// wazero would run from): either is reported once and the run goes on
// without it.
func (c *cli) openCache(dir string, origin config.Origin) wazero.CompilationCache {
	cache, err := compcache.Open(dir)
	var untrusted *trusted.Error
	switch {
	case errors.As(err, &untrusted):
		c.sayf("compilation cache %s (%s) not used, compiling without it: %v: "+
			"whoever can write it chooses the code that runs; make it yours and private (chown; chmod go-w), or set another --cache-dir",
			dir, origin, untrusted)
		return nil
	case err != nil:
		c.sayf("compilation cache %s (%s) unusable, compiling without it: %v", dir, origin, unwrapPath(err))
		return nil
	}
	return cache
}
