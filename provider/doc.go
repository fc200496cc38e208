// Package provider is the backend-neutral heart of wasihsm: the algorithm
// registry, the interfaces every cryptographic backend implements, the typed
// errors they return, and the Router that chooses a backend for each
// (algorithm, operation) under the operator's fallback policy.
//
// # Shape
//
// A [Backend] creates hashes and keys. Every operation that needs a key is a
// method of the key itself ([Signer], [AEADKey], [HKDFKey], [KeyAgreementKey],
// [PublicKeyExporter]), so a key never leaves the backend that made it: a key
// generated on a PKCS#11 token is used on that token and nowhere else.
//
// The wasm host never talks to a backend directly. It holds a [Provider],
// normally a [*Router], which decides where each new hash or key goes:
//
//	router, err := provider.NewRouter(provider.RouterConfig{
//		Primary:  token,          // e.g. the PKCS#11 backend
//		Fallback: software,       // the pure-Go backend
//		Policy:   provider.FallbackPublicOnly,
//	})
//
// # Host memory held for a guest
//
// The host gives each guest instance a [Budget] of host bytes and passes
// it in the context of the calls that may stage memory ([WithBudget],
// [BudgetFrom]). A backend that buffers or stages memory sized by the
// guest charges the budget before allocating and releases the charge when
// it drops the memory — also when that is after the call returned, as for
// a token call abandoned at its deadline. A charge past the budget is
// [ErrBudgetExhausted].
//
// # Errors
//
// Backends return (wrapped) sentinels of this package, such as
// [ErrInvalidArgument] or [ErrNotSupported]; the host maps each sentinel to one
// wasi errno in a single table. Messages never contain PINs or key bytes.
//
// # Imports
//
// This package imports only the standard library and package spec, which
// holds the contract's algorithm table that [Algorithm] and [Kind] are.
// Backends import it; it imports no backend.
package provider
