// Command loop is the wasm guest of the benchmark suite (package bench). It
// is a small server: it reads one command per line from stdin, runs the
// operation the given number of times inside the guest, and answers one
// line on stdout, so that a benchmark measures the cost of each call and
// not the instantiation of the guest.
//
// Commands (N is the number of iterations; each answers "ok [HEX...]" or
// "err MESSAGE"):
//
//	nop N                 the bench.nop import (a bare api.GoModuleFunc)
//	update0 N             hash_update of 0 bytes on one SHA-256 state
//	digest N              hash_digest of one SHA-256 state; answers the digest
//	signupdate N          sign_update of 64 bytes on one ES256 state
//	cycle N               hash_open, hash_update (64 B), hash_digest, hash_close
//	hash ALG SIZE N       the host hashes SIZE bytes (wasicrypto.Hash); answers the digest
//	ghash ALG SIZE N      the same hash computed in the guest by the Go standard library
//	sign ALG N            wasicrypto.AppendSign of a 64-byte message with a generated key
//	                      into a reused buffer (no allocation in the guest);
//	                      answers the last signature and the key's SubjectPublicKeyInfo
//	msign ALG N           sign with the managed key named ALG (opened once)
//	hmac ALG N            the same with an imported MAC key; answers the MAC
//	gcm ALG SIZE N        AEAD.Seal of SIZE bytes with an imported key and nonces 0..N-1;
//	                      answers the last tag
//	keygen ALG N          wasicrypto.GenerateKey and Key.Close
//
// The data is the byte pattern i%251, the MAC and AES keys are the bytes
// 1, 2, 3, … (see package bench, which checks every answer against the
// standard library). Keys for sign are generated on first use and kept.
package main
