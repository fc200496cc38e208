// Package softfallback is wasihsm's pure-Go cryptographic backend: a
// [provider.Backend] that runs every algorithm of docs/semantics.md#algorithms in host memory
// with the Go standard library. It serves the whole API when no token is
// configured, and whatever a token cannot do when the operator's fallback
// policy allows it.
//
// # Use
//
//	soft := softfallback.New()
//	router, err := provider.NewRouter(provider.RouterConfig{Primary: token, Fallback: soft})
//
// [Backend.Supports] answers [provider.Software] for every registered
// (algorithm, operation) pair it serves: OpHash for hashes and XOFs;
// OpGenerate, OpImport and the algorithm's [provider.KeyOperations] for keyed
// algorithms. HKDF is the exception: an HKDF key is HKDF-Extract of input
// keying material, so it can be imported (OpImport, with the IKM as input)
// but not generated, and GenerateKey without input answers
// [provider.ErrInvalidArgument].
//
// # Keys
//
// Imports take the formats of docs/semantics.md#algorithms: a raw key of exactly 16, 24 or 32
// bytes for A128GCM/A192GCM/A256GCM; a raw key at least as long as the hash
// for HS256/384/512 (RFC 7518 §3.2); PKCS#8 DER of exactly the right key type
// and curve for ES*, EdDSA, RS*, PS*, ECDH-P256, ECDH-P384 and X25519; RSA
// moduli of 2048 to 8192 bits; for HKDF, the IKM, with the request's Nonce as
// the salt and its Hash (SHA-256, SHA-384 or SHA-512) as the hash. Anything
// else is [provider.ErrInvalidArgument]; so is a Nonce or Hash on a request
// for an algorithm that takes none. The backend never keeps a reference to
// the request's slices.
//
// Generated keys come from crypto/rand: AES keys of the algorithm's size,
// HMAC keys as long as the hash, 2048-bit RSA keys.
//
// Signatures follow JWS (RFC 7518): ECDSA signs with crypto/rand and outputs
// fixed-width r‖s; RSASSA-PSS uses a salt as long as the hash; Ed25519 is
// pure Ed25519, which needs the whole message, so an EdDSA sign state
// buffers it up to the maxBuffered bytes given to NewSignState and answers
// [provider.ErrMessageTooLarge] beyond (the other algorithms hash
// incrementally and buffer nothing).
//
// Signature and key-agreement keys export their public half as
// SubjectPublicKeyInfo DER ([provider.PublicKeyExporter]); AES, HMAC and HKDF
// keys do not implement that interface.
//
// # Destroy and what it cannot reach
//
// Destroy zeroes every secret byte slice the key owns (the HMAC key, the
// HKDF PRK, the Ed25519 private key) and the words of the big integers of
// ECDSA and RSA private keys, then drops the key's references; every later
// use of the key, or of a sign state opened on it, fails with
// [provider.ErrInvalidArgument] ("key destroyed"). An EdDSA state zeroes its
// buffered message on Reset and Close.
//
// Some copies are out of reach, and are only released to the garbage
// collector: the AES key schedule inside crypto/aes (the raw AES key itself is
// zeroed as soon as the cipher is built, and is never stored), the HMAC pads
// inside crypto/hmac (in sign states and during HKDF-Expand), the internal
// forms that crypto/ecdsa, crypto/ecdh and crypto/rsa derive from a private
// key (including the standard library's caches), and intermediate values of
// x509 parsing and key generation. Go gives no way to zero them. A deployment
// that needs keys never to be in host memory must use a token and the
// `deny` fallback policy.
//
// # Concurrency
//
// A Backend and its keys are safe for concurrent use. A hash or sign state is
// for one goroutine at a time.
//
// # Errors
//
// Errors wrap the sentinels of package provider, with messages prefixed
// "softfallback:" and the algorithm name; they never contain key bytes.
// A failed AEAD authentication is one opaque [provider.ErrAuthentication].
// Contexts are accepted for the interface's sake: software operations do not
// block, and none of them watches the context.
package softfallback
