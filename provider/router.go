package provider

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
)

// Policy is the operator's `fallback` setting: what may run in the software
// backend when the primary backend cannot do it (docs/semantics.md#where-keys-live).
type Policy uint8

// The fallback policies.
const (
	// FallbackAllow lets everything the primary lacks run in software,
	// logging once per algorithm. It is the default.
	FallbackAllow Policy = iota
	// FallbackPublicOnly lets only keyless work (hashing) run in software.
	FallbackPublicOnly
	// FallbackDeny runs nothing in software.
	FallbackDeny
)

// String returns the policy as written in configuration.
func (p Policy) String() string {
	switch p {
	case FallbackAllow:
		return "allow"
	case FallbackPublicOnly:
		return "public-only"
	case FallbackDeny:
		return "deny"
	}
	return fmt.Sprintf("policy(%d)", uint8(p))
}

// ParsePolicy parses a policy as written in configuration: "allow",
// "public-only" or "deny".
func ParsePolicy(s string) (Policy, error) {
	switch s {
	case "allow":
		return FallbackAllow, nil
	case "public-only":
		return FallbackPublicOnly, nil
	case "deny":
		return FallbackDeny, nil
	}
	return 0, fmt.Errorf("provider: fallback policy %q: want allow, public-only or deny: %w", s, ErrInvalidArgument)
}

// permits reports whether the policy lets an operation on alg run in the
// fallback backend.
func (p Policy) permits(alg Algorithm) bool {
	switch p {
	case FallbackAllow:
		return true
	case FallbackPublicOnly:
		return !alg.Kind.Keyed()
	}
	return false
}

// ManagedKeys opens keys that an operator provisioned (docs/semantics.md#key-extension). The
// PKCS#11 backend implements it.
type ManagedKeys interface {
	OpenManagedKey(ctx context.Context, name string, guest Guest) (Key, error)
}

// RouterConfig configures a Router. It is copied by NewRouter.
type RouterConfig struct {
	// Primary is the backend tried first. Required.
	Primary Backend
	// Fallback runs what Primary cannot, as Policy allows; nil for none.
	Fallback Backend
	// Policy governs the use of Fallback.
	Policy Policy
	// ManagedKeys serves private_key_open; nil means there are none, and
	// every name answers ErrNotFound.
	ManagedKeys ManagedKeys
	// Logger receives the once-per-algorithm fallback notices; nil
	// discards them.
	Logger *slog.Logger
}

// Router is a Provider that places each hash and key on the primary backend
// when it can serve every operation the algorithm needs, and otherwise on the
// fallback backend when the policy allows it. A key stays where it was
// placed. A Router is safe for concurrent use.
type Router struct {
	cfg    RouterConfig
	logged sync.Map // algorithm name → struct{}: fallback notice given
}

var _ Provider = (*Router)(nil)

// NewRouter returns a Router for cfg.
func NewRouter(cfg RouterConfig) (*Router, error) {
	if cfg.Primary == nil {
		return nil, fmt.Errorf("provider: router: no primary backend: %w", ErrInvalidArgument)
	}
	if cfg.Policy > FallbackDeny {
		return nil, fmt.Errorf("provider: router: %v: %w", cfg.Policy, ErrInvalidArgument)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Router{cfg: cfg}, nil
}

// Policy returns the router's fallback policy.
func (r *Router) Policy() Policy { return r.cfg.Policy }

// Route returns the backend that serves op for alg, and how. It answers
// ErrNotSupported when neither backend may serve it.
func (r *Router) Route(alg Algorithm, op Operation) (Backend, Support, error) {
	b, s, _, err := r.route(alg, func(b Backend) Support { return b.Supports(alg, op) })
	if err != nil {
		return nil, Unsupported, fmt.Errorf("provider: %s %s: %w", alg.Name, op, err)
	}
	return b, s, nil
}

// route asks the primary, then (as the policy permits) the fallback, how
// it supports something, and returns the first that does and whether it is
// the fallback. Backends are never compared: their dynamic types need not
// be comparable.
func (r *Router) route(alg Algorithm, supports func(Backend) Support) (Backend, Support, bool, error) {
	if s := supports(r.cfg.Primary); s != Unsupported {
		return r.cfg.Primary, s, false, nil
	}
	if r.cfg.Fallback != nil && r.cfg.Policy.permits(alg) {
		if s := supports(r.cfg.Fallback); s != Unsupported {
			return r.cfg.Fallback, s, true, nil
		}
	}
	return nil, Unsupported, false, ErrNotSupported
}

// keySupport is how b supports a key of alg created by create: the least
// support over creation and every operation of KeyOperations(alg), since a
// key lives in one backend for its whole life.
func keySupport(b Backend, alg Algorithm, create Operation) Support {
	least := b.Supports(alg, create)
	for _, op := range KeyOperations(alg) {
		least = min(least, b.Supports(alg, op))
	}
	return least
}

// noteFallback logs, once per algorithm, that alg runs on the fallback.
func (r *Router) noteFallback(b Backend, alg Algorithm) {
	if _, seen := r.logged.LoadOrStore(alg.Name, struct{}{}); !seen {
		r.cfg.Logger.Info("algorithm runs in the fallback backend",
			"algorithm", alg.Name, "backend", b.Name(), "primary", r.cfg.Primary.Name(), "policy", r.cfg.Policy.String())
	}
}

// NewHash implements Provider.
func (r *Router) NewHash(ctx context.Context, alg Algorithm) (Hash, error) {
	if alg.Kind != KindHash && alg.Kind != KindXOF {
		return nil, fmt.Errorf("provider: %s is not a hash: %w", alg.Name, ErrNotSupported)
	}
	b, _, fallback, err := r.route(alg, func(b Backend) Support { return b.Supports(alg, OpHash) })
	if err != nil {
		return nil, fmt.Errorf("provider: hash %s: %w", alg.Name, err)
	}
	if fallback {
		r.noteFallback(b, alg)
	}
	return b.NewHash(ctx, alg)
}

// GenerateKey implements Provider.
func (r *Router) GenerateKey(ctx context.Context, req KeyRequest) (Key, error) {
	if !req.Algorithm.Kind.Keyed() {
		return nil, fmt.Errorf("provider: %s is not a key algorithm: %w", req.Algorithm.Name, ErrNotSupported)
	}
	alg, op := req.Algorithm, OpGenerate
	if req.Imported() {
		op = OpImport
	}
	b, _, fallback, err := r.route(alg, func(b Backend) Support { return keySupport(b, alg, op) })
	if err != nil {
		return nil, fmt.Errorf("provider: %s key (%s): %w", alg.Name, op, err)
	}
	if fallback {
		r.noteFallback(b, alg)
	}
	return b.GenerateKey(ctx, req)
}

// OpenManagedKey implements Provider.
func (r *Router) OpenManagedKey(ctx context.Context, name string, guest Guest) (Key, error) {
	if r.cfg.ManagedKeys == nil {
		return nil, fmt.Errorf("provider: managed key %q: %w", name, ErrNotFound)
	}
	return r.cfg.ManagedKeys.OpenManagedKey(ctx, name, guest)
}
