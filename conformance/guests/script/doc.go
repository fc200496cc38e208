// Command script runs the ABI scenarios of conformance/abiscript from Go,
// through the raw imports of guest/wasicrypto/raw: it reads a scenario's
// commands on stdin and answers each, as the C and Rust contract guests'
// -script mode does, so that the same scripts hold all three languages'
// bindings (conformance/languages).
package main
