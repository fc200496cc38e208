package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/wasihsm/wasihsm/internal/config"
	"github.com/wasihsm/wasihsm/metrics"
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

	settings, err := c.loadSettings(config.Input{Flags: f.config.Values()})
	if err != nil {
		return c.errorf(exitUsage, "%v", err)
	}
	if err := checkMounts(f.mounts, secretPaths(settings, c.lookupEnv)); err != nil {
		return c.errorf(exitUsage, "%v", err)
	}
	logger := newLogger(c.stderr, settings.Log)
	prov, token, err := newProvider(ctx, settings, logger, c.lookupEnv)
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
	var collector *metrics.Collector
	if addr := settings.MetricsAddr; addr != "" {
		var srv *metricsServer
		srv, collector, err = startMetrics(addr, token, logger)
		if err != nil {
			return c.errorf(exitInternal, "%s (%s): %v", config.FieldMetricsAddr, settings.Origin(config.FieldMetricsAddr), err)
		}
		defer srv.close()
	}
	return c.runGuest(ctx, guestRun{
		settings: settings,
		flags:    f,
		provider: prov,
		logger:   logger,
		observer: observer(logger, collector),
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
