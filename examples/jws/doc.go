// Command jws is a WebAssembly guest that makes a JSON Web Signature (RFC
// 7515) with a key it never sees: the key is generated (or opened by name)
// on the wasihsm host, possibly inside a PKCS#11 token, and the guest asks
// the host to sign.
//
// Build it for wasip1 and run it in the host:
//
//	GOOS=wasip1 GOARCH=wasm go build -o jws.wasm ./examples/jws
//	wasihsm run jws.wasm [-key NAME] [PAYLOAD]
//
// It prints two things to stdout: the compact JWS (header.payload.signature,
// alg ES256, on one line) and the public key as a "PUBLIC KEY" PEM block,
// with which anyone can verify the JWS.
//
// PAYLOAD is the JSON claim set to sign; without it the guest signs a small
// fixed one. With -key NAME, or WASIHSM_JWS_KEY=NAME in the guest's
// environment, it signs with the managed ES256 key of that name instead of
// a fresh key. On any error it prints a message to stderr and exits 1; on a
// usage error it exits 2.
//
// Built for any other platform, the command only says how to build it.
package main
