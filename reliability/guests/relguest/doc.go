// Command relguest is the wasm guest of the reliability tests: a tenant
// that works (mix), one that holds keys while the host looks at the token
// (hold), and one that goes after handles it was never given (sweep).
//
//	relguest mix N            N rounds of hashing, AES-GCM, ES256 signing,
//	                          HKDF and HS256, each result checked against
//	                          the standard library but the signatures, which
//	                          it prints ("es256 SPKI MSG SIG", hex) for the
//	                          host to verify; then prints "ok N ops"
//	relguest hold SPEC...     makes one key per SPEC (ALG to generate,
//	                          import:ALG:HEX to import), uses it once, prints
//	                          "key ALG HANDLE" (ALG with its import: prefix)
//	                          for each and "ready", then waits for stdin to end
//	relguest import ALG HEX...  imports each key (hex), uses it once, and
//	                          prints "import ALG ERRNO" (0: success)
//	relguest sweep LO HI H... calls key- and state-taking functions with
//	                          every handle value in [LO, HI] and with each H;
//	                          prints "badf N" (how many calls, all badf) or
//	                          "notbadf FUNC HANDLE ERRNO" for each that was not
//
// Any failure prints "FAIL ..." on stderr and exits 1. The guest imports
// neither crypto/x509 nor the asymmetric packages: half the size, half the
// compile time under -race; the host makes import material and verifies.
package main
