// Package hsm is wasihsm's PKCS#11 backend: a [provider.Backend] (and
// [provider.ManagedKeys]) whose keys are generated, imported and used
// inside a token, such as an HSM or SoftHSM2, through
// github.com/miekg/pkcs11.
//
// # Use
//
//	b, err := hsm.Open(ctx, hsm.Config{
//		Module: "/usr/lib/softhsm/libsofthsm2.so",
//		Token:  hsm.TokenSelector{Label: "wasihsm"},
//		PIN:    func() ([]byte, error) { return readPIN() },
//	})
//	defer b.Close()
//	router, err := provider.NewRouter(provider.RouterConfig{
//		Primary: b, Fallback: softfallback.New(), ManagedKeys: b,
//	})
//
// [Backend.Supports] tells the router what runs on the token; keys of
// algorithms the token cannot fully serve are placed in the fallback
// backend by the router, never here. [Slots] and [Backend.Capabilities]
// describe a module's tokens for `wasihsm slots`. [TokenSelector] picks
// exactly one token; Config.ManagedKeys names the keys an operator
// provisioned, which [Backend.OpenManagedKey] opens and never destroys.
//
// A Backend and its keys are safe for concurrent use; a hash or sign state
// is for one goroutine at a time. Every operation has a deadline
// (Config.CallTimeout), and a token that fails or hangs is recovered in
// the background. Errors wrap the sentinels of package provider.
//
// The package builds only with cgo. Without it, the same API exists and
// every entry point fails with an error wrapping [provider.ErrNotSupported].
//
// What it guarantees for keys on a token is in
// docs/semantics.md#where-keys-live; how it uses modules, logins and
// sessions, and why, in docs/design.md ("The PKCS#11 backend", "Token
// calls"); its settings in docs/configuration.md.
package hsm
