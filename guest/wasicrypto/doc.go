// Package wasicrypto is the guest side of wasihsm: it lets a Go program
// compiled to WebAssembly (GOOS=wasip1 GOARCH=wasm) hash, sign, encrypt and
// derive keys through the host's wasi_ephemeral_crypto API, whose keys may
// live in a PKCS#11 token the guest never sees. Guest authors use this
// package and never write //go:wasmimport themselves.
//
// The package builds on every platform, but only its error types exist
// outside wasip1.
//
// # Usage
//
//	key, err := wasicrypto.GenerateKey("ES256")
//	if err != nil {
//		return err
//	}
//	defer key.Close()
//
//	sig, err := wasicrypto.Sign("ES256", key, []byte("message"))
//	if err != nil {
//		return err
//	}
//	spki, err := key.PublicKey() // DER SubjectPublicKeyInfo, for x509.ParsePKIXPublicKey
//
// Build the guest and run it in the host:
//
//	GOOS=wasip1 GOARCH=wasm go build -o guest.wasm .
//	wasihsm run guest.wasm
//
// # Algorithms
//
// Names are exact and case-sensitive (docs/semantics.md#algorithms):
//
//   - hashes ([Hash], [NewHasher]): SHA-1, SHA-224, SHA-256, SHA-384,
//     SHA-512, SHA3-224, SHA3-256, SHA3-384, SHA3-512; extendable-output
//     functions ([XOF]): SHAKE128, SHAKE256
//   - AEAD keys ([NewAEAD]): A128GCM, A192GCM, A256GCM (12-byte nonce,
//     16-byte tag)
//   - MAC keys ([Sign] computes the MAC): HS256, HS384, HS512
//   - signing keys: ES256, ES384, ES512 (signatures r‖s as in JWS), EdDSA
//     (Ed25519), RS256, RS384, RS512, PS256, PS384, PS512
//   - key agreement ([ECDH]): ECDH-P256, ECDH-P384, X25519
//   - key derivation ([NewHKDFKey], [HKDFExpand]): HKDF with SHA-256,
//     SHA-384 or SHA-512
//
// Keys are made by [GenerateKey], imported by [ImportKey] (raw bytes for
// symmetric keys, PKCS#8 DER for the others) or opened by name with
// [OpenManagedKey] when the operator provisioned them. The host may refuse
// any algorithm its backends or policy cannot serve (notsup).
//
// # Handles
//
// Every value of this package holds one host handle, released by its Close
// method; everything left open is released when the guest instance ends,
// and keys the guest created are then destroyed. The host limits the number
// of open handles per instance (mfile), so close what you no longer need.
//
// The wasi_ephemeral_crypto states for key generation and derivation have
// no close call: when [GenerateKey], [ImportKey], [NewHKDFKey] or a
// derivation fails half-way, its state stays allocated until the instance
// ends. Closing a [Key] does not break a [Signer] or [AEAD] made from it.
//
// A [Key] may be shared between goroutines. A [Hasher], [Signer] or [AEAD]
// keeps state between calls and must not be used by two goroutines at once.
//
// # Allocations
//
// Allocating in a Go guest costs more than a call to the host (about a
// microsecond per allocation under wazero, against a tenth of one per
// host call; see bench/ANALYSIS.md). The functions that return new slices
// ([Sign], [Signer.Sign], [AEAD.Encrypt]) allocate them; in a loop, use
// the append forms with a reused buffer: [AppendSign], [Signer.AppendSign],
// [AEAD.Seal], [AEAD.Open].
//
// # Errors
//
// Every failing call returns a [*CallError] naming the host function that
// failed and the host's [Errno], e.g. "wasicrypto: sign_open: inval".
// Test for an errno with errors.Is:
//
//	if errors.Is(err, wasicrypto.ErrnoNotsup) {
//		// the host cannot serve this algorithm
//	}
//
// errors.Is also answers true for [fs.ErrNotExist] (no managed key of that
// name), [fs.ErrPermission] (the policy forbids it) and
// [errors.ErrUnsupported] (notsup). A failed AEAD authentication is
// [ErrnoBadmsg] and says nothing about which input was wrong.
//
// # Low-level access
//
// Package [github.com/wasihsm/wasihsm/guest/wasicrypto/raw] exposes each
// host import with plain uint32 parameters, for tests that need to pass
// arbitrary handles and addresses. [Key.Handle] connects the two levels.
package wasicrypto
