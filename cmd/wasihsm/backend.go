package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/hsm/group"
	"github.com/wasihsm/wasihsm/internal/config"
	"github.com/wasihsm/wasihsm/metrics"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/softfallback"
)

// newProvider wires the backend that settings choose to a router, and
// returns the token backend too (nil on software), for its metrics. This
// is the only place where backends meet the host (docs/design.md,
// "Packages and the one direction").
//
// The PKCS#11 backend is deliberately never closed by the CLI: its session
// objects vanish with the process, and C_Finalize at process exit is where
// SoftHSM2 is known to crash.
func newProvider(ctx context.Context, s config.Settings, logger *slog.Logger, lookupEnv func(string) (string, bool)) (provider.Provider, metrics.Token, error) {
	switch s.Backend {
	case config.BackendSoftware:
		// Everything runs in software already: there is nothing to fall
		// back to, and so the policy changes nothing.
		r, err := provider.NewRouter(provider.RouterConfig{
			Primary: softfallback.New(),
			Policy:  s.Fallback,
			Logger:  logger,
		})
		return r, nil, err
	case config.BackendPKCS11:
		if len(s.PKCS11.Tokens) > 0 {
			g, err := openGroup(ctx, s, lookupEnv, logger)
			if err != nil {
				return nil, nil, err
			}
			r, err := provider.NewRouter(provider.RouterConfig{
				Primary:     g,
				Fallback:    softfallback.New(),
				Policy:      s.Fallback,
				ManagedKeys: g,
				Logger:      logger,
			})
			return r, g, err
		}
		token, err := openToken(ctx, s, lookupEnv)
		if err != nil {
			return nil, nil, err
		}
		r, err := provider.NewRouter(provider.RouterConfig{
			Primary:     token,
			Fallback:    softfallback.New(),
			Policy:      s.Fallback,
			ManagedKeys: token,
			Logger:      logger,
		})
		return r, token, err
	}
	return nil, nil, fmt.Errorf("backend %q: unknown", s.Backend)
}

// errBackendSetup marks a failure to reach the token (as opposed to a
// configuration mistake): the module does not load, the token is absent,
// the login fails.
type errBackendSetup struct{ err error }

func (e errBackendSetup) Error() string { return e.err.Error() }
func (e errBackendSetup) Unwrap() error { return e.err }

// errPINRead marks a failure to read the PIN from its source, which the
// backend reports as a failed login; doctor's advice tells the two apart.
type errPINRead struct{ err error }

func (e errPINRead) Error() string { return e.err.Error() }
func (e errPINRead) Unwrap() error { return e.err }

// openToken opens the PKCS#11 backend of the settings.
func openToken(ctx context.Context, s config.Settings, lookupEnv func(string) (string, bool)) (*hsm.Backend, error) {
	if err := s.CheckPKCS11(); err != nil {
		return nil, fmt.Errorf("backend pkcs11 (%s): %w", backendReason(s), err)
	}
	cfg, err := hsmConfig(s, lookupEnv)
	if err != nil {
		return nil, err
	}
	b, err := hsm.Open(ctx, cfg)
	if err != nil {
		return nil, errBackendSetup{fmt.Errorf("backend pkcs11 (%s): %w", backendReason(s), err)}
	}
	return b, nil
}

// openGroup opens the group of tokens of the settings (pkcs11.tokens). A
// token that cannot be opened is logged and left out; the group fails
// only when none can be.
func openGroup(ctx context.Context, s config.Settings, lookupEnv func(string) (string, bool), logger *slog.Logger) (*group.Group, error) {
	if err := s.CheckPKCS11(); err != nil {
		return nil, fmt.Errorf("backend pkcs11 (%s): %w", backendReason(s), err)
	}
	cfg, err := groupConfig(s, lookupEnv)
	if err != nil {
		return nil, err
	}
	g, err := group.Open(ctx, cfg)
	if err != nil {
		return nil, errBackendSetup{fmt.Errorf("backend pkcs11, group of %d tokens: %w", len(cfg.Tokens), err)}
	}
	for _, err := range g.OpenErrors() {
		logger.Warn("a token of the group could not be opened; the group runs without it", "err", err)
	}
	return g, nil
}

// groupConfig maps the resolved settings of a group to its configuration:
// each token's hsm.Config as for a single token, with its own selector,
// module and PIN.
func groupConfig(s config.Settings, lookupEnv func(string) (string, bool)) (group.Config, error) {
	policy, err := group.ParsePolicy(s.PKCS11.Policy)
	if err != nil {
		return group.Config{}, err
	}
	base, err := hsmConfig(s, lookupEnv)
	if err != nil {
		return group.Config{}, err
	}
	cfg := group.Config{Policy: policy, CallTimeout: s.PKCS11.CallTimeout, ManagedKeys: base.ManagedKeys}
	for i, t := range s.PKCS11.Tokens {
		tc, err := tokenConfig(s, t.Selector, t.Module, t.InitArgs, t.PIN, lookupEnv)
		if err != nil {
			return group.Config{}, fmt.Errorf("%s[%d]: %w", config.FieldTokens, i, err)
		}
		tc.ManagedKeys = nil
		cfg.Tokens = append(cfg.Tokens, tc)
	}
	return cfg, nil
}

// hsmConfig maps the resolved settings to the backend's configuration.
func hsmConfig(s config.Settings, lookupEnv func(string) (string, bool)) (hsm.Config, error) {
	p := s.PKCS11
	cfg, err := tokenConfig(s, p.Selector, p.Module, p.InitArgs, p.PIN, lookupEnv)
	if err != nil {
		return hsm.Config{}, err
	}
	for _, k := range s.Keys {
		cfg.ManagedKeys = append(cfg.ManagedKeys, hsm.ManagedKey{
			Name: k.Name, Label: k.Label, ID: k.ID, Algorithm: k.Algorithm, Guests: k.Guests, Operations: k.Operations,
		})
	}
	return cfg, nil
}

// tokenConfig is the configuration of one token: selected by sel, in
// module initialised with initArgs, with the PIN from pin, and the pkcs11
// settings every token shares.
func tokenConfig(s config.Settings, sel config.TokenSelector, module, initArgs string, pin config.PINSource, lookupEnv func(string) (string, bool)) (hsm.Config, error) {
	p := s.PKCS11
	token, err := tokenSelector(sel)
	if err != nil {
		return hsm.Config{}, err
	}
	cfg := hsm.Config{
		Module:         module,
		InitArgs:       initArgs,
		AllowedModules: p.AllowedModules,
		Token:          token,
		MaxSessions:    p.MaxSessions,
		SessionWait:    p.SessionWait,
		CallTimeout:    p.CallTimeout,
		MaxBuffered:    s.Limits.MaxBufferedBytes,
	}
	if pin.IsSet() {
		src := pin
		// The backend zeroes the bytes once it has logged in
		// (hsm.Config.PIN), so they are handed over as they are.
		cfg.PIN = func() ([]byte, error) {
			pin, err := src.Read(lookupEnv)
			if err != nil {
				return nil, errPINRead{err}
			}
			return pin, nil
		}
	}
	return cfg, nil
}

// tokenSelector maps the path attributes of the configured selection. The
// library and slot-manufacturer attributes select nothing the backend can
// match yet: they are refused rather than silently ignored.
func tokenSelector(sel config.TokenSelector) (hsm.TokenSelector, error) {
	u := sel.URI()
	if u == nil {
		return hsm.TokenSelector{}, nil
	}
	if u.SlotManufacturer != nil || u.LibraryManufacturer != nil || u.LibraryDescription != nil || u.LibraryVersion != nil {
		return hsm.TokenSelector{}, fmt.Errorf("%s: slot-manufacturer and library-* attributes are not supported for selecting a token; "+
			"select it by token, serial, manufacturer, model, slot-id or slot-description", config.FieldToken)
	}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	return hsm.TokenSelector{
		Label:           str(u.Token),
		Serial:          str(u.Serial),
		Manufacturer:    str(u.Manufacturer),
		Model:           str(u.Model),
		SlotID:          u.SlotID,
		SlotDescription: str(u.SlotDescription),
	}, nil
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
