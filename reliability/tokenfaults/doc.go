// Package tokenfaults holds the token-fault tests of wasihsm
// (docs/reliability.md "Token faults"): a SoftHSM2 token behind `p11-kit
// server` is killed and started again, or stopped with SIGSTOP, while
// guests and goroutines sign with a managed key; and a small session pool
// is stormed by hundreds of callers. The tests measure what a guest sees —
// each call's latency against its deadline, the time to the first success
// after the token is back, wrong results, OS threads — and fail when a
// figure is out of bounds.
//
// The package has no code of its own; `go test` runs the short forms (a
// few seconds each, part of `make test`). WASIHSM_FAULTS=long runs the long
// forms (several outages, longer ones, more callers): `make faults`. With
// -v the tests log their figures, which docs/reliability.md quotes.
package tokenfaults
