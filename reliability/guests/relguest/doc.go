// Command relguest is the wasm guest of the reliability tests: a tenant
// that works (mix), one that holds keys while the host looks at the token
// (hold), and one that goes after handles it was never given (sweep).
//
//	relguest mix N            N rounds of hashing, AES-GCM, ES256 sign and
//	                          verify, HKDF and HS256, each result checked
//	                          against the standard library; prints "ok N ops"
//	relguest hold ALG...      makes one key of each algorithm, uses it once,
//	                          prints "key ALG HANDLE" for each and "ready",
//	                          then waits for stdin to end
//	relguest import ALG HEX...  imports each key (hex), uses it once, and
//	                          prints "import ALG ERRNO" (0: success)
//	relguest sweep LO HI H... calls key- and state-taking functions with
//	                          every handle value in [LO, HI] and with each H;
//	                          prints "badf N" (how many calls, all badf) or
//	                          "notbadf FUNC HANDLE ERRNO" for each that was not
//
// Any failure prints "FAIL ..." on stderr and exits 1.
package main
