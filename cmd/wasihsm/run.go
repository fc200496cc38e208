package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/wasihsm/wasihsm/internal/config"
)

// softwareNotice is the one line run prints when nobody chose a backend.
const softwareNotice = "no PKCS#11 token configured (WASIHSM_BACKEND, WASIHSM_CONFIG): running on the software backend; keys live in host memory"

// runCommand implements `wasihsm run`.
func (c *cli) runCommand(ctx context.Context, args []string) int {
	f, err := parseRunFlags(args, c.lookupEnv)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(c.stdout, usage)
		return exitOK
	case err != nil:
		return c.usageError(err.Error())
	}

	settings, err := config.Load(config.Input{Flags: f.config.Values(), LookupEnv: c.lookupEnv})
	if err != nil {
		return c.errorf(exitUsage, "%v", err)
	}
	logger := slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{} // one run, one process: the time adds nothing
			}
			return a
		},
	}))
	prov, err := newProvider(ctx, settings, logger, c.lookupEnv)
	if err != nil {
		if errors.As(err, new(errBackendSetup)) {
			return c.errorf(exitInternal, "%v", err)
		}
		return c.errorf(exitUsage, "%v", err)
	}
	wasm, err := os.ReadFile(f.module)
	if err != nil {
		return c.errorf(exitNoModule, "%s: %v", f.module, unwrapPath(err))
	}
	return c.runGuest(ctx, guestRun{
		settings: settings,
		flags:    f,
		provider: prov,
		logger:   logger,
		wasm:     wasm,
		notice:   settings.Backend == config.BackendSoftware && settings.BackendImplicit(),
	})
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
