// Command groupguest is the wasm guest of the token-group tests
// (reliability/tokengroup): it signs and MACs with the managed keys "sig"
// (ES256) and "mac" (HS256) for a while and prints every result with the
// time its call took, for the test to verify.
//
//	groupguest ID SECONDS
//
// Each round i signs and MACs the message "groupguest ID round i" and
// prints
//
//	sig I HEX NANOSECONDS
//	mac I HEX NANOSECONDS
//
// or, for a call that failed, "err I OP ERRNO NANOSECONDS", and goes on.
// It ends with "done ROUNDS".
package main
