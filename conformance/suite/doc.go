// Package suite is the conformance suite of wasihsm: the one set of checks
// that `make conformance` runs against every backend of CI and that
// `wasihsm conformance` runs against an operator's token.
//
// [Run] holds one [Target] (a primary backend, a fallback and a policy) to
// the suite through a real wasm guest, conformance/guests/contract, which
// the package embeds ([Guest]; regenerate it with `make generate`):
//
//   - every scenario of the guest, each in a fresh instance: the rules of
//     docs/semantics.md, #abi, #handles, #memory, #algorithms, #errors and #key-extension, with signatures the guest makes verified on
//     the host;
//   - every known-answer vector of internal/vectors (NIST CAVP, Wycheproof,
//     RFC 8032), each passing or excluded by a rule written next to it
//     whose errno is checked, and probes of key generation, import and
//     export that the host verifies with keys of its own.
//
// The answers become cells, one per algorithm × operation ([Rows]): pass
// (with the number of checks and of published vectors), fail, or notsup —
// only where every check answered notsup and the target cannot serve the
// algorithm by the router's rule, with the token's mechanism list as the
// backend's Supports. [WriteText] and [WriteMarkdown] print the matrix of
// one or more results.
package suite
