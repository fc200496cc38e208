// Package tokengroup tests a group of tokens (package hsm/group) as the
// operator runs one: N SoftHSM2 tokens, each in a directory of its own and
// served by a `p11-kit server` of its own, reached through p11-kit-proxy
// (softhsmtest.Group). Servers are killed (SIGKILL) and stopped (SIGSTOP)
// under load from Go and from wasm guests; the tests assert that no call
// fails, none outlives its deadline, every result verifies and the tokens
// rejoin. TestAvailability is the issue's set-up, scaled to 12 s in `go
// test` and at its full 30 s with `make soak-group` (WASIHSM_GROUP_SOAK=full).
package tokengroup
