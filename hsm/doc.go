// Package hsm is wasihsm's PKCS#11 backend: a [provider.Backend] (and
// [provider.ManagedKeys]) whose keys are generated, imported and used
// inside a token, such as an HSM or SoftHSM2, through
// github.com/miekg/pkcs11.
//
// # Use
//
//	b, err := hsm.Open(ctx, hsm.Config{
//		Module: "/usr/lib/softhsm/libsofthsm2.so",
//		Token:  hsm.TokenSelector{Label: "wasihsm"},
//		PIN:    func() ([]byte, error) { return readPIN() },
//	})
//	defer b.Close()
//	router, err := provider.NewRouter(provider.RouterConfig{
//		Primary: b, Fallback: softfallback.New(), ManagedKeys: b,
//	})
//
// [Backend.Supports] tells the router what runs on the token; keys of
// algorithms the token cannot fully serve are placed in the fallback
// backend by the router, never here. [Slots] and [Backend.Capabilities]
// describe a module's tokens for `wasihsm slots`.
//
// The package builds only with cgo. Without it, the same API exists and
// every entry point fails with an error wrapping
// [provider.ErrNotSupported] ("hsm: built without PKCS#11 support (cgo
// disabled)").
//
// # Modules
//
// A PKCS#11 module is initialised once per process: the first Open (or
// Slots) of a module path calls C_Initialize, later ones share it, and the
// Close that drops the last reference calls C_Finalize. Nothing finalizes
// a module at process exit (SoftHSM2 is known to crash there), and
// libraries are never unloaded. Paths that resolve to the same file share
// one initialisation. Only the modules of Config.AllowedModules (by
// default Config.Module alone) are loaded; [AllowModule] checks a path,
// such as a PKCS#11 URI's module-path, against that list.
//
// # Tokens and login
//
// [TokenSelector] picks the token by label, serial, manufacturer, model,
// slot ID or slot description (the path attributes of an RFC 7512 URI);
// exactly one token must match. When Config.PIN is set, the backend logs
// in as the user at Open, asking the PIN source then and zeroing the bytes
// right after C_Login; it asks again only if the token reports
// CKR_USER_NOT_LOGGED_IN later, and then retries the operation once.
// CKR_USER_ALREADY_LOGGED_IN (another backend of the process on the same
// token) counts as success. The backend never calls C_Logout: login state
// belongs to the whole process. A token without CKF_LOGIN_REQUIRED works
// without a PIN; its objects are then not private (CKA_PRIVATE false).
//
// # Sessions and concurrency
//
// A Backend and its keys are safe for concurrent use; a hash or sign state
// is for one goroutine at a time. PKCS#11 sessions are not, so, as in
// crypto11:
//
//  1. Open opens one persistent session, which stays logged in for the
//     life of the backend. Every key the backend creates is a session
//     object (CKA_TOKEN false), and session objects live only as long as
//     the session that created them: so every object is created, and
//     destroyed, in the persistent session, one at a time. That also
//     avoids SoftHSM2 2.6.1's random CKR_GENERAL_ERROR under parallel key
//     creation (upstream issue 573); such transient failures of creation
//     are retried a few times as well.
//  2. Every other operation takes a session from a bounded pool for its
//     duration and gives it back. The pool holds at most the token's
//     ulMaxSessionCount sessions minus the persistent one, lowered to
//     Config.MaxSessions; a token without a limit gets
//     [DefaultMaxSessions]. An operation waits at most Config.SessionWait
//     ([DefaultSessionWait]) for a free session, then fails with
//     [provider.ErrNoResources]; a context deadline that comes first gives
//     [provider.ErrTimeout]. Calls into the module themselves cannot be
//     interrupted.
//  3. A session that the token answers with a session-class error
//     (CKR_SESSION_HANDLE_INVALID, CKR_SESSION_CLOSED, CKR_DEVICE_REMOVED,
//     …) is closed and replaced, and the operation retried once. If the
//     persistent session dies, it is reopened and logged in again, but the
//     session objects it held are gone: their keys answer
//     [provider.ErrKeyLost] from then on.
//
// # Deadlines and token faults
//
// Every operation on the token has a deadline, Config.CallTimeout
// ([DefaultCallTimeout]; Open and key creation get six times as long): the
// wait for a session and the PKCS#11 calls together. A call that misses
// it answers [provider.ErrTimeout] (the calls run on, on a goroutine of
// their own, until the token answers); a timeout, or a return value that
// says the token or the module is gone (trait fatal in errors.go), marks
// the token unhealthy, and operations fail at once with
// [provider.ErrDevice] until a recovery brings it back. Managed keys find
// their objects again; keys the backend created may answer
// [provider.ErrKeyLost]. How, and what keeps it safe: docs/design.md,
// "Token calls", and the top of call.go.
//
// A token that forgot the login hides private objects (SoftHSM2 answers
// CKR_OBJECT_HANDLE_INVALID): the backend logs in again and retries, up
// to three times for one operation; a managed key finds its object again.
//
// # Keys
//
// Generated and imported keys are session objects with CKA_SENSITIVE true,
// CKA_EXTRACTABLE false and CKA_PRIVATE true (CONTRACT §6); after creation
// the backend reads back CKA_SENSITIVE and CKA_EXTRACTABLE, and for
// generated keys CKA_ALWAYS_SENSITIVE and CKA_NEVER_EXTRACTABLE, and fails
// if the token did not keep them (SoftHSM2 leaves keys readable unless
// asked). It does so for the first key of each algorithm and origin
// (generated or imported) in each persistent session: the others are made
// from the same template by the same module. Imports follow the software
// backend's rules exactly: AES keys of exactly 16, 24 or 32 bytes; HMAC
// keys at least as long as the hash; PKCS#8 of exactly the right type and
// curve; RSA of 2048 to 8192 bits and two primes. The host copies of imported material are zeroed once the token
// has it; see "What the host still sees" for the copies that are not.
//
// How each algorithm runs on the token:
//
//   - SHA-1 and SHA-2: the token's digest. A hash state buffers its data,
//     up to Config.MaxBuffered ([DefaultMaxBuffered]) bytes, beyond which
//     Update answers [provider.ErrMessageTooLarge], and each Digest is one
//     C_Digest over it (a token digest cannot be copied to answer
//     hash_digest repeatedly).
//   - AES-GCM: CKM_AES_GCM with a 12-byte IV and a 16-byte tag, always;
//     Seal returns ciphertext‖tag, Open takes it. Any failed authentication
//     is one opaque [provider.ErrAuthentication].
//   - ES256/384/512: the message is hashed on the host as it comes, the
//     token signs the digest with CKM_ECDSA; r‖s of fixed width.
//   - RS*: hashed on the host, DigestInfo added, CKM_RSA_PKCS. PS*: hashed
//     on the host, CKM_RSA_PKCS_PSS with MGF1 of the same hash and a salt
//     as long as the hash.
//   - EdDSA: CKM_EDDSA (pure Ed25519), which needs the whole message: the
//     state buffers it up to the maxBuffered of NewSignState.
//   - HS256/384/512: CKM_SHA*_HMAC with a generic-secret key. The state
//     buffers the data up to maxBuffered (a token HMAC cannot be copied to
//     answer sign repeatedly). A raw key longer than the hash's block is
//     replaced by its hash, and one shorter than the token's minimum is
//     padded with zeros, as HMAC itself does (RFC 2104 §2): the MAC is the
//     same.
//   - HKDF (composed, [provider.Composed]): Extract is an HMAC on the token
//     with the salt as a temporary key; the PRK becomes a sensitive,
//     non-extractable generic secret on the token and its host copy is
//     zeroed. Expand is a chain of token HMAC calls with the PRK.
//   - ECDH-P256/P384: the peer's point is checked on the host, then
//     CKM_ECDH1_DERIVE (CKD_NULL) derives the secret into a temporary
//     generic-secret object that the backend reads and destroys at once.
//   - X25519 is never served by the token (CKK_EC_MONTGOMERY keys are not
//     implemented), nor are SHA-3 (unless the token lists it) and SHAKE
//     (PKCS#11 has no XOF digest).
//
// Signature and key-agreement keys implement [provider.PublicKeyExporter]
// with the public key read from the token (CKA_EC_POINT and CKA_EC_PARAMS,
// or CKA_MODULUS and CKA_PUBLIC_EXPONENT) as SubjectPublicKeyInfo DER.
// Destroy destroys both objects of a pair. When it cannot have the
// persistent session (the token is recovering, a long call such as an RSA
// key generation holds the session beyond Config.SessionWait, or its
// context has ended), it still succeeds: the backend takes the objects
// over and destroys them as soon as it has the session again (or they die
// with it), so no object outlives its key.
//
// # Managed keys
//
// Config.ManagedKeys names token objects that an operator provisioned, by
// label and/or id, with their algorithm, the guests that may open them (by
// module name or the SHA-256 of their wasm binary) and the operations they
// allow. [Backend.OpenManagedKey] finds the object (and the public half of
// a pair) and checks its class, key type and curve or size; a disallowed
// operation fails with [provider.ErrAccessDenied] when it is attempted.
// Managed keys are never destroyed: their Destroy only releases them.
//
// # Errors
//
// Errors wrap the sentinels of package provider. A failed PKCS#11 call
// reads "hsm: <operation>: <CKR name>: <sentinel>"; one table maps every
// CKR value to a sentinel (see errors.go). No message contains a PIN or
// key material.
//
// # What the host still sees
//
// github.com/miekg/pkcs11 copies attribute values, PINs and outputs
// through C memory that it frees without zeroing: the material of an
// imported key, the PIN at each login, decrypted plaintext and ECDH shared
// secrets pass through such buffers. The backend zeroes every Go copy it
// owns. Keys that are generated on the token never leave it.
package hsm
