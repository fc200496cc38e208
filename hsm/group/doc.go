// Package group serves several PKCS#11 tokens as one backend
// (docs/semantics.md#token-groups): a [Group] is a provider.Backend and a
// provider.ManagedKeys over one [hsm.Backend] per token.
//
// # Managed keys
//
// A managed key is the same key on every token (the operator provisions
// it on each; HSM clusters replicate it themselves). At Open, and whenever
// a token comes back after a failure, the group finds the key on the token
// and proves it is the same key (check.go) before the token serves it. An
// operation on a managed key runs on a token that holds it, the policy's
// choice; when that token fails (a module or session error, a device
// error, or no answer within the attempt timeout), the operation runs
// again on another, within the same call deadline.
//
// # Health
//
// Each token is healthy, recovering or down ([State]). Its own backend
// notices a failure and recovers the token in the background; the group
// watches, takes the token out of service at once, and lets it rejoin
// only once its managed keys were found and proven again.
//
// # Keys a guest makes
//
// A generated or imported key, and a hash, live on the one token that made
// them: when it is lost they answer provider.ErrKeyLost, as with a single
// token.
package group
