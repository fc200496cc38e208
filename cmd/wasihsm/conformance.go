package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"

	"github.com/wasihsm/wasihsm/conformance/suite"
	"github.com/wasihsm/wasihsm/internal/config"
	"github.com/wasihsm/wasihsm/softfallback"
)

// exitNonconformant is the exit code of `wasihsm conformance` when a cell
// or scenario failed.
const exitNonconformant = 1

// conformanceCommand implements `wasihsm conformance [--json] [flags]`:
// the conformance suite, whose wasm guest is embedded in the binary, run
// against the backend of the current configuration. It creates session
// objects only (every key it makes is destroyed before it returns), so
// the token is left as it was found.
func (c *cli) conformanceCommand(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("wasihsm conformance", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfgFlags := config.AddFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON for scripts")
	noCache := fs.Bool("no-cache", false, "compile without the compilation cache")
	if code, done := c.parseFlagsOnly(fs, args); done {
		return code
	}
	settings, err := c.loadSettings(config.Input{Flags: cfgFlags.Values()})
	if err != nil {
		return c.errorf(exitUsage, "%v", err)
	}

	target := suite.Target{Policy: settings.Fallback}
	switch settings.Backend {
	case config.BackendSoftware:
		if settings.BackendImplicit() {
			c.sayf("%s", softwareNotice)
		}
		target.Name, target.Primary = "software", softfallback.New()
	case config.BackendPKCS11:
		// Never closed, as in run: see newProvider.
		token, err := openToken(ctx, settings, c.lookupEnv)
		if err != nil {
			if errors.As(err, new(errBackendSetup)) {
				return c.errorf(exitInternal, "%v", err)
			}
			return c.errorf(exitUsage, "%v", err)
		}
		target.Name = "pkcs11, fallback " + settings.Fallback.String()
		target.Primary, target.Fallback = token, softfallback.New()
	default:
		return c.errorf(exitUsage, "backend %q: unknown", settings.Backend)
	}

	opts := suite.Options{}
	if dir := settings.CacheDir; dir != "" && !*noCache {
		if cache := c.openCache(dir, settings.Origin(config.FieldCacheDir)); cache != nil {
			defer cache.Close(ctx)
			opts.Cache = cache
		}
	}
	res, err := suite.Run(ctx, target, opts)
	if err != nil {
		return c.errorf(exitInternal, "conformance: %v", err)
	}
	if *asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return c.errorf(exitInternal, "conformance: %v", err)
		}
	} else {
		suite.WriteText(c.stdout, []*suite.Result{res})
	}
	if res.Failed() {
		c.sayf("conformance: %s does not conform: see the failures above", target.Name)
		return exitNonconformant
	}
	return exitOK
}
