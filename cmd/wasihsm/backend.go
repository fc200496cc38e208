package main

import (
	"fmt"
	"log/slog"

	"github.com/wasihsm/wasihsm/internal/config"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/softfallback"
)

// newProvider wires the backend that settings choose to a router. This is
// the only place where backends meet the host (STYLE: shape of the house).
func newProvider(s config.Settings, logger *slog.Logger) (provider.Provider, error) {
	switch s.Backend {
	case config.BackendSoftware:
		// Everything runs in software already: there is nothing to fall
		// back to, and so the policy changes nothing.
		return provider.NewRouter(provider.RouterConfig{
			Primary: softfallback.New(),
			Policy:  s.Fallback,
			Logger:  logger,
		})
	case config.BackendPKCS11:
		return nil, fmt.Errorf("backend pkcs11 (%s): this build of wasihsm has no PKCS#11 backend yet; "+
			"it comes with the next release. Use --backend software to keep keys in host memory", backendReason(s))
	}
	return nil, fmt.Errorf("backend %q: unknown", s.Backend)
}

// backendReason says who chose the backend, for messages.
func backendReason(s config.Settings) string {
	if o := s.Origin(config.FieldBackend); o.Kind != config.FromDefault {
		return "from " + o.String()
	}
	for _, f := range []string{config.FieldPKCS11Module, config.FieldToken} {
		if o := s.Origin(f); o.Kind != config.FromDefault {
			return "implied by " + o.String()
		}
	}
	return "the default"
}
