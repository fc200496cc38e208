// Command interop is a test guest whose outputs are checked by tools that
// no one in this project wrote: openssl verifies its signatures, the Go
// standard library opens its AES-GCM ciphertexts, and it uses keys that
// pkcs11-tool put on the token (conformance/interop_test.go).
//
// Usage:
//
//	interop sign ALG                 generate an ALG key, sign stdin
//	interop sign-managed NAME ALG    sign stdin with the managed key NAME
//	interop seal ALG                 import a raw AES key, encrypt
//	interop open ALG                 import a raw AES key, decrypt
//
// sign and sign-managed read the message as raw bytes from stdin and print
// "sig HEX" and "spki HEX" (the SubjectPublicKeyInfo DER); when the host
// refuses to export the public key, sign-managed prints "spki-errno NAME"
// instead. seal and open read "NAME HEX" lines from stdin: key, nonce, aad,
// and pt (seal) or ct and tag (open); seal prints "ct HEX" and "tag HEX",
// open prints "pt HEX".
//
// A host call that fails prints "errno NAME" (e.g. "errno badmsg") on
// stdout and exits 1; a usage error exits 2.
package main
