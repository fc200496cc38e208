// Package languages holds the C and Rust guests of wasihsm to the contract
// in its tests, as the Go contract guest is held: the contract guests in C
// (conformance/guests/contract-c, built against guest/c's header alone)
// and Rust (conformance/guests/contract-rust, through guest/rust) answer
// every known-answer vector and probe of conformance/suite
// (suite.RunKnownAnswers) and run the ABI scenarios of
// conformance/abiscript (as does a Go guest, conformance/guests/script),
// on the software backend and on SoftHSM2; the examples in both languages
// run too. The toolchains come from
// internal/wasmtoolchain: missing, the tests skip, or fail with CI=true.
package languages
