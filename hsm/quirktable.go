package hsm

// Quirk is one way a token was seen to deviate from PKCS#11, or to need
// more than it says, kept as data: the token it was seen on, what it
// does, how the backend finds it on a token and what it does about it,
// and the test that shows it. The backend's code consults the table's
// data (the codes and flags below), not the token's name: a token is
// never trusted to be what it says, so quirks are found by asking it
// (probing, or its answer to a call), and what probing finds unavailable
// needs no quirk at all (see probe.go).
type Quirk struct {
	// Name names the quirk in `wasihsm slots`, `doctor` and the docs.
	Name string
	// SeenOn is the token (implementation and version) it was seen on.
	SeenOn string
	// Deviation is what the token does.
	Deviation string
	// Detection is how the backend finds it on a token.
	Detection string
	// Handling is what the backend does about it.
	Handling string
	// Test is the test that shows the quirk and its handling.
	Test string
}

// The names of the quirks of the table.
const (
	QuirkReadWriteObjects     = "read-write-objects"
	QuirkTokenKeyPairsOnly    = "token-key-pairs-only"
	QuirkNoKeyImport          = "no-key-import"
	QuirkNoGenerateKey        = "no-generate-key"
	QuirkBrokenP521           = "broken-p521"
	QuirkSensitiveDefault     = "sensitive-default-false"
	QuirkGCMTagGeneralError   = "gcm-tag-general-error"
	QuirkParallelCreate       = "parallel-create-general-error"
	QuirkLostLoginHides       = "lost-login-hides-objects"
	QuirkNoCopyable           = "no-copyable"
	QuirkPairsDecrypt         = "key-pairs-decrypt"
	QuirkCopyableTokenObjects = "copyable-token-objects"
	QuirkGCMShortLength       = "gcm-short-length-query"
	QuirkUnusableLength       = "buffer-too-small-unusable-length"
	QuirkTruncatedHMAC        = "hmac-truncated-ok"
)

// quirks is the table: every deviation the backend knows of.
var quirks = []Quirk{
	{
		Name: QuirkReadWriteObjects, SeenOn: "tpm2-pkcs11 1.9.0",
		Deviation: "creating, generating or destroying any object, session objects included, needs a read-write session: a read-only one answers CKR_SESSION_READ_ONLY",
		Detection: "at open, the backend creates (and destroys) a session data object on its read-only persistent session",
		Handling:  "the persistent session, the one session that creates and destroys objects, is opened read-write (one of the token's read-write sessions); pooled sessions stay read-only",
		Test:      "TestQuirkReadWriteObjects",
	},
	{
		Name: QuirkTokenKeyPairsOnly, SeenOn: "tpm2-pkcs11 1.9.0",
		Deviation: "C_GenerateKeyPair makes token objects only: CKA_TOKEN false answers CKR_ATTRIBUTE_VALUE_INVALID",
		Detection: "probe: generating a session key pair is refused",
		Handling:  "the token holds no guest keys (docs/semantics.md#where-keys-live): the algorithm's guest keys go to software under fallback allow, notsup under deny; managed keys, token objects made by `wasihsm keys generate`, work",
		Test:      "TestQuirkTokenKeyPairsOnly",
	},
	{
		Name: QuirkNoKeyImport, SeenOn: "tpm2-pkcs11 1.9.0",
		Deviation: "C_CreateObject takes no private or secret key (CKR_ATTRIBUTE_VALUE_INVALID)",
		Detection: "probe: importing a throwaway key is refused",
		Handling:  "imports of the algorithm go to software under fallback allow, notsup under deny",
		Test:      "TestQuirkNoKeyImport",
	},
	{
		Name: QuirkNoGenerateKey, SeenOn: "tpm2-pkcs11 1.9.0",
		Deviation: "C_GenerateKey answers CKR_FUNCTION_NOT_SUPPORTED though CKM_AES_KEY_GEN is listed",
		Detection: "probe: generating a secret key is refused",
		Handling:  "the algorithm's generated keys go to software under fallback allow, notsup under deny",
		Test:      "TestQuirkNoGenerateKey",
	},
	{
		Name: QuirkBrokenP521, SeenOn: "tpm2-pkcs11 1.9.0",
		Deviation: "P-521 keys are stored with a malformed CKA_EC_POINT, and C_SignInit with them answers CKR_HOST_MEMORY",
		Detection: "probe (guest keys), and doctor's use of each managed key",
		Handling:  "ES512 is unavailable on the token; a managed ES512 key does not open (an UnusableKeyError: the guest is told notsup, never io), and doctor fails it, naming the fix; keys generate removes such a key and answers notsup",
		Test:      "TestQuirkBrokenP521",
	},
	{
		Name: QuirkPairsDecrypt, SeenOn: "tpm2-pkcs11 1.9.0",
		Deviation: "every key pair is a TPM key that signs and decrypts: C_GenerateKeyPair with CKA_DECRYPT false on the private key or CKA_ENCRYPT false on the public key answers CKR_GENERAL_ERROR (\"attr mismatch\")",
		Detection: "the answer: when a managed key pair (`wasihsm keys generate`) is refused with CKR_GENERAL_ERROR, the same templates without those two attributes are taken",
		Handling:  "managed key pairs are made without them, so the token sets them true: the key can also decrypt on the token, which wasihsm never asks of it (a managed key does only the operations of its configuration); every other usage attribute stays false",
		Test:      "TestQuirkPairsDecrypt",
	},
	{
		Name: QuirkCopyableTokenObjects, SeenOn: "NSS softokn 3.87",
		Deviation: "a token object (a managed key) whose template has CKA_COPYABLE answers CKR_GENERAL_ERROR; session objects take it",
		Detection: "the answer: when a managed key (`wasihsm keys generate` or `import`) is refused with CKR_GENERAL_ERROR, the same templates without CKA_COPYABLE are taken",
		Handling:  "managed keys are made without CKA_COPYABLE, as on a token with no-copyable: they stay not modifiable",
		Test:      "TestQuirkCopyableTokenObjects",
	},
	{
		Name: QuirkGCMShortLength, SeenOn: "NSS softokn 3.87",
		Deviation: "the length query of an AES-GCM C_Encrypt answers the ciphertext's length without the tag, and a call with a buffer of that length answers CKR_BUFFER_TOO_SMALL",
		Detection: "while probing AES-GCM: one length query on the throwaway key, answered shorter than the plaintext and the tag",
		Handling:  "no length is asked: the seal passes a buffer of the plaintext's length plus the tag's, the length the algorithm fixes (module.finish)",
		Test:      "TestQuirkGCMShortLength",
	},
	{
		Name: QuirkUnusableLength, SeenOn: "NSS softokn 3.87",
		Deviation: "a call answered CKR_BUFFER_TOO_SMALL does not report the length it needs (it reports 0, or leaves what was there); a length query still does",
		Detection: "while probing RS*: one RSA signature into half the buffer on the throwaway key",
		Handling:  "buffers are of the algorithm's size, so the answer does not come; where it does, module.finish asks with a length query and retries once with that length (bounded), and a call that still fails ends its operation and its session is closed, not pooled",
		Test:      "TestQuirkUnusableLength",
	},
	{
		Name: QuirkTruncatedHMAC, SeenOn: "NSS softokn 3.87",
		Deviation: "an HMAC C_Sign into a buffer shorter than the MAC answers CKR_OK with the MAC cut to the buffer, not CKR_BUFFER_TOO_SMALL",
		Detection: "while probing HS*: one MAC into half the buffer on the throwaway key",
		Handling:  "MACs are asked into a buffer of the MAC's full length, and module.finish believes no answer shorter than the algorithm's output (CKR_GENERAL_ERROR, a device error)",
		Test:      "TestQuirkTruncatedHMAC",
	},
	{
		Name: QuirkSensitiveDefault, SeenOn: "SoftHSM2 2.6.1",
		Deviation: "a key made without CKA_SENSITIVE and CKA_EXTRACTABLE in its template is extractable in the clear, and usage attributes left out default to true",
		Detection: "none needed: every template says every attribute, and the first key of each kind is read back",
		Handling:  "templates set CKA_SENSITIVE, CKA_EXTRACTABLE and every usage attribute; checkKeyAttributes fails a key the token did not keep as asked",
		Test:      "TestKeyAttributes",
	},
	{
		Name: QuirkGCMTagGeneralError, SeenOn: "SoftHSM2 2.6.1",
		Deviation: "C_Decrypt of AES-GCM answers a tag that does not verify with CKR_GENERAL_ERROR, not CKR_ENCRYPTED_DATA_INVALID",
		Detection: "the answer: the codes of aeadTagCodes; the probe opens a message with a broken tag and wants an authentication failure",
		Handling:  "on an AEAD decryption those codes are an authentication failure, never a device error",
		Test:      "TestQuirkGCMTagGeneralError",
	},
	{
		Name: QuirkParallelCreate, SeenOn: "SoftHSM2 2.6.1",
		Deviation: "object creation fails at random with CKR_GENERAL_ERROR when objects are created in parallel",
		Detection: "the answer (CKR_GENERAL_ERROR is transient)",
		Handling:  "objects are created one at a time on the persistent session, and a transient failure is retried a few times; a probe that meets it learns nothing and is not kept",
		Test:      "TestConcurrency",
	},
	{
		Name: QuirkLostLoginHides, SeenOn: "SoftHSM2 2.6.1",
		Deviation: "when the login is lost, handles of private objects answer CKR_OBJECT_HANDLE_INVALID or CKR_KEY_HANDLE_INVALID (CKR_GENERAL_ERROR between C_SignInit and C_Sign), not CKR_USER_NOT_LOGGED_IN",
		Detection: "the answer (the hidden trait), then C_GetSessionInfo",
		Handling:  "the backend logs in again and retries; a managed key is found again by label and id",
		Test:      "TestRelogin",
	},
	{
		Name: QuirkNoCopyable, SeenOn: "tokens of PKCS#11 before 2.40",
		Deviation: "a template with CKA_COPYABLE answers CKR_ATTRIBUTE_TYPE_INVALID",
		Detection: "the answer, when the same template without it is taken",
		Handling:  "keys are made without CKA_COPYABLE from then on (they stay not modifiable)",
		Test:      "TestNoCopyableToken",
	},
}

// Quirks returns the table of known token quirks, for docs and `doctor`.
func Quirks() []Quirk { return append([]Quirk(nil), quirks...) }
