// Package providertest is the contract suite of [provider.Backend]: one set
// of checks that the tests of every backend run, so that the pure-Go
// backend and a PKCS#11 token are held to the same contract by the same
// code, as crypto/internal/cryptotest does for the standard library's
// ciphers.
//
// # Use
//
// A backend's tests call [TestBackend] once per way of reaching the
// backend (the PKCS#11 backend's tests call it directly on SoftHSM2 and
// again through p11-kit remoting):
//
//	func TestContract(t *testing.T) {
//		providertest.TestBackend(t, softfallback.New(), providertest.Options{
//			ErrorPrefix: "softfallback: ",
//		})
//	}
//
// The parts of the suite run in parallel, after TestBackend returns: a
// backend that needs closing is closed in a t.Cleanup of the calling test.
// [Options] says what the suite cannot ask the backend: its error prefix,
// which states buffer data and up to what size, and how many vector
// messages are worth signing on a slow device.
//
// # What the suite checks
//
// The suite asks the backend's Supports what it serves, as the router
// does, and checks exactly that: a hash is tested when Supports reports
// OpHash, and keys of an algorithm when Supports reports their creation
// and every operation of provider.KeyOperations. For the rest it checks
// that the refusal is consistent: operations that do not apply are never
// reported, and a hash or key creation that Supports reports unsupported
// fails with [provider.ErrNotSupported]. Algorithms left out are logged.
//
// Within that, it checks known answers from internal/vectors (NIST and
// Wycheproof hashes, HMAC, HKDF, AES-GCM, ECDH, Ed25519 of RFC 8032, RSA
// PKCS#1 v1.5 signature generation), signatures of randomised algorithms
// verified with the standard library as a relying party would, the import
// rules of package keyimport with the exact sentinel of each refusal,
// output and signature sizes, the Hash and SignState contracts (repeatable
// Digest and Sign, Reset, ErrMessageTooLarge on states that buffer),
// public key export, that a destroyed key refuses every use, and placement
// through a provider.Router.
//
// What only one backend has (zeroing of its memory, allocations, token
// attributes, sessions, managed keys) stays in that backend's own tests.
// The exported helpers ([Sign], [PublicKey], [Verify], [Serves], …) are
// there for those tests.
//
// # Imports
//
// The package imports provider, internal/vectors, the standard library and
// testify; it never imports a backend.
package providertest
