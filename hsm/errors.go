//go:build cgo

package hsm

import (
	"errors"
	"fmt"

	"github.com/miekg/pkcs11"

	"github.com/wasihsm/wasihsm/provider"
)

// The traits (see trait, declared with TokenError).
const (
	// evict: the session is unusable; close it, and retry the call once
	// on a fresh session.
	evict trait = 1 << iota
	// relogin: the token has forgotten the login; log in again and retry
	// the call once.
	relogin
	// done: the call's purpose already holds (C_Login answering
	// CKR_USER_ALREADY_LOGGED_IN, C_Initialize answering
	// CKR_CRYPTOKI_ALREADY_INITIALIZED); treat it as success.
	done
	// transient: the same call may succeed when repeated. SoftHSM2 2.6.1
	// fails object creation at random with CKR_GENERAL_ERROR when objects
	// are created in parallel (quirk parallel-create-general-error,
	// docs/operations.md#token-quirks); creation is retried a
	// few times.
	transient
	// fatal: the token, its slot or the module (through p11-kit remoting:
	// the connection to the server) is gone. The backend marks the token
	// unhealthy and recovers (see call_recover.go): C_Finalize, C_Initialize,
	// new sessions, a new login. p11-kit-client.so answers every call with
	// CKR_DEVICE_ERROR once its server has gone, until it is finalized and
	// initialised again. CKR_GENERAL_ERROR is not fatal: SoftHSM2 answers
	// it for a failed AEAD tag and for its parallel-creation race.
	fatal
	// hidden: the object may only be invisible: a token that forgot the
	// login hides private objects, and SoftHSM2 then answers
	// CKR_OBJECT_HANDLE_INVALID or CKR_KEY_HANDLE_INVALID rather than
	// CKR_USER_NOT_LOGGED_IN (and CKR_GENERAL_ERROR when the login goes
	// between C_SignInit and C_Sign). When the session is no longer logged
	// in, the error counts as relogin.
	hidden
	// unknownAttribute: the token does not know an attribute type of the
	// template; a key's policy then retries without CKA_COPYABLE (see
	// deviations.noCopyable).
	unknownAttribute
)

// ckr is one row of the table: a return value's name, the provider
// sentinel it becomes, and its traits.
type ckr struct {
	name   string
	err    error
	traits trait
}

// ckrTable maps every CK_RV of PKCS#11 3.0 to a provider sentinel. It is
// the only place that knows what return values mean: the rest of the
// package asks it, through ckrError and hasTrait, and callers read it in
// the TokenError that ckrError makes of a row. Values it does not know
// (vendor-defined ones included) are provider.ErrDevice.
//
// The rules: a wrong argument, length or template (…_INVALID, …_RANGE,
// …_INCONSISTENT) is ErrInvalidArgument; an unknown mechanism or function
// ErrNotSupported; a failed AEAD tag or signature ErrAuthentication; no
// memory or sessions left ErrNoResources; a vanished object ErrKeyLost;
// PINs, logins and key policies ErrAccessDenied; everything that says the
// device or library is broken ErrDevice.
var ckrTable = map[uint]ckr{
	pkcs11.CKR_OK:                               {"CKR_OK", nil, 0},
	pkcs11.CKR_CANCEL:                           {"CKR_CANCEL", provider.ErrDevice, 0},
	pkcs11.CKR_HOST_MEMORY:                      {"CKR_HOST_MEMORY", provider.ErrNoResources, 0},
	pkcs11.CKR_SLOT_ID_INVALID:                  {"CKR_SLOT_ID_INVALID", provider.ErrDevice, evict | fatal},
	pkcs11.CKR_GENERAL_ERROR:                    {"CKR_GENERAL_ERROR", provider.ErrDevice, transient | hidden},
	pkcs11.CKR_FUNCTION_FAILED:                  {"CKR_FUNCTION_FAILED", provider.ErrDevice, 0},
	pkcs11.CKR_ARGUMENTS_BAD:                    {"CKR_ARGUMENTS_BAD", provider.ErrInvalidArgument, 0},
	pkcs11.CKR_NO_EVENT:                         {"CKR_NO_EVENT", provider.ErrDevice, 0},
	pkcs11.CKR_NEED_TO_CREATE_THREADS:           {"CKR_NEED_TO_CREATE_THREADS", provider.ErrDevice, 0},
	pkcs11.CKR_CANT_LOCK:                        {"CKR_CANT_LOCK", provider.ErrDevice, 0},
	pkcs11.CKR_ATTRIBUTE_READ_ONLY:              {"CKR_ATTRIBUTE_READ_ONLY", provider.ErrInvalidArgument, 0},
	pkcs11.CKR_ATTRIBUTE_SENSITIVE:              {"CKR_ATTRIBUTE_SENSITIVE", provider.ErrAccessDenied, 0},
	pkcs11.CKR_ATTRIBUTE_TYPE_INVALID:           {"CKR_ATTRIBUTE_TYPE_INVALID", provider.ErrInvalidArgument, unknownAttribute},
	pkcs11.CKR_ATTRIBUTE_VALUE_INVALID:          {"CKR_ATTRIBUTE_VALUE_INVALID", provider.ErrInvalidArgument, 0},
	pkcs11.CKR_ACTION_PROHIBITED:                {"CKR_ACTION_PROHIBITED", provider.ErrAccessDenied, 0},
	pkcs11.CKR_DATA_INVALID:                     {"CKR_DATA_INVALID", provider.ErrInvalidArgument, 0},
	pkcs11.CKR_DATA_LEN_RANGE:                   {"CKR_DATA_LEN_RANGE", provider.ErrInvalidArgument, 0},
	pkcs11.CKR_DEVICE_ERROR:                     {"CKR_DEVICE_ERROR", provider.ErrDevice, evict | fatal},
	pkcs11.CKR_DEVICE_MEMORY:                    {"CKR_DEVICE_MEMORY", provider.ErrNoResources, 0},
	pkcs11.CKR_DEVICE_REMOVED:                   {"CKR_DEVICE_REMOVED", provider.ErrDevice, evict | fatal},
	pkcs11.CKR_ENCRYPTED_DATA_INVALID:           {"CKR_ENCRYPTED_DATA_INVALID", provider.ErrAuthentication, 0},
	pkcs11.CKR_ENCRYPTED_DATA_LEN_RANGE:         {"CKR_ENCRYPTED_DATA_LEN_RANGE", provider.ErrAuthentication, 0},
	pkcs11.CKR_FUNCTION_CANCELED:                {"CKR_FUNCTION_CANCELED", provider.ErrDevice, 0},
	pkcs11.CKR_FUNCTION_NOT_PARALLEL:            {"CKR_FUNCTION_NOT_PARALLEL", provider.ErrNotSupported, 0},
	pkcs11.CKR_FUNCTION_NOT_SUPPORTED:           {"CKR_FUNCTION_NOT_SUPPORTED", provider.ErrNotSupported, 0},
	pkcs11.CKR_KEY_HANDLE_INVALID:               {"CKR_KEY_HANDLE_INVALID", provider.ErrKeyLost, hidden},
	pkcs11.CKR_KEY_SIZE_RANGE:                   {"CKR_KEY_SIZE_RANGE", provider.ErrInvalidArgument, 0},
	pkcs11.CKR_KEY_TYPE_INCONSISTENT:            {"CKR_KEY_TYPE_INCONSISTENT", provider.ErrInvalidArgument, 0},
	pkcs11.CKR_KEY_NOT_NEEDED:                   {"CKR_KEY_NOT_NEEDED", provider.ErrInvalidArgument, 0},
	pkcs11.CKR_KEY_CHANGED:                      {"CKR_KEY_CHANGED", provider.ErrKeyLost, 0},
	pkcs11.CKR_KEY_NEEDED:                       {"CKR_KEY_NEEDED", provider.ErrInvalidArgument, 0},
	pkcs11.CKR_KEY_INDIGESTIBLE:                 {"CKR_KEY_INDIGESTIBLE", provider.ErrNotSupported, 0},
	pkcs11.CKR_KEY_FUNCTION_NOT_PERMITTED:       {"CKR_KEY_FUNCTION_NOT_PERMITTED", provider.ErrAccessDenied, 0},
	pkcs11.CKR_KEY_NOT_WRAPPABLE:                {"CKR_KEY_NOT_WRAPPABLE", provider.ErrAccessDenied, 0},
	pkcs11.CKR_KEY_UNEXTRACTABLE:                {"CKR_KEY_UNEXTRACTABLE", provider.ErrAccessDenied, 0},
	pkcs11.CKR_MECHANISM_INVALID:                {"CKR_MECHANISM_INVALID", provider.ErrNotSupported, 0},
	pkcs11.CKR_MECHANISM_PARAM_INVALID:          {"CKR_MECHANISM_PARAM_INVALID", provider.ErrInvalidArgument, 0},
	pkcs11.CKR_OBJECT_HANDLE_INVALID:            {"CKR_OBJECT_HANDLE_INVALID", provider.ErrKeyLost, hidden},
	pkcs11.CKR_OPERATION_ACTIVE:                 {"CKR_OPERATION_ACTIVE", provider.ErrDevice, evict},
	pkcs11.CKR_OPERATION_NOT_INITIALIZED:        {"CKR_OPERATION_NOT_INITIALIZED", provider.ErrDevice, evict},
	pkcs11.CKR_PIN_INCORRECT:                    {"CKR_PIN_INCORRECT", provider.ErrAccessDenied, 0},
	pkcs11.CKR_PIN_INVALID:                      {"CKR_PIN_INVALID", provider.ErrAccessDenied, 0},
	pkcs11.CKR_PIN_LEN_RANGE:                    {"CKR_PIN_LEN_RANGE", provider.ErrAccessDenied, 0},
	pkcs11.CKR_PIN_EXPIRED:                      {"CKR_PIN_EXPIRED", provider.ErrAccessDenied, 0},
	pkcs11.CKR_PIN_LOCKED:                       {"CKR_PIN_LOCKED", provider.ErrAccessDenied, 0},
	pkcs11.CKR_SESSION_CLOSED:                   {"CKR_SESSION_CLOSED", provider.ErrDevice, evict},
	pkcs11.CKR_SESSION_COUNT:                    {"CKR_SESSION_COUNT", provider.ErrNoResources, 0},
	pkcs11.CKR_SESSION_HANDLE_INVALID:           {"CKR_SESSION_HANDLE_INVALID", provider.ErrDevice, evict},
	pkcs11.CKR_SESSION_PARALLEL_NOT_SUPPORTED:   {"CKR_SESSION_PARALLEL_NOT_SUPPORTED", provider.ErrNotSupported, 0},
	pkcs11.CKR_SESSION_READ_ONLY:                {"CKR_SESSION_READ_ONLY", provider.ErrAccessDenied, 0},
	pkcs11.CKR_SESSION_EXISTS:                   {"CKR_SESSION_EXISTS", provider.ErrDevice, 0},
	pkcs11.CKR_SESSION_READ_ONLY_EXISTS:         {"CKR_SESSION_READ_ONLY_EXISTS", provider.ErrAccessDenied, 0},
	pkcs11.CKR_SESSION_READ_WRITE_SO_EXISTS:     {"CKR_SESSION_READ_WRITE_SO_EXISTS", provider.ErrAccessDenied, 0},
	pkcs11.CKR_SIGNATURE_INVALID:                {"CKR_SIGNATURE_INVALID", provider.ErrAuthentication, 0},
	pkcs11.CKR_SIGNATURE_LEN_RANGE:              {"CKR_SIGNATURE_LEN_RANGE", provider.ErrAuthentication, 0},
	pkcs11.CKR_TEMPLATE_INCOMPLETE:              {"CKR_TEMPLATE_INCOMPLETE", provider.ErrInvalidArgument, 0},
	pkcs11.CKR_TEMPLATE_INCONSISTENT:            {"CKR_TEMPLATE_INCONSISTENT", provider.ErrInvalidArgument, transient},
	pkcs11.CKR_TOKEN_NOT_PRESENT:                {"CKR_TOKEN_NOT_PRESENT", provider.ErrDevice, evict | fatal},
	pkcs11.CKR_TOKEN_NOT_RECOGNIZED:             {"CKR_TOKEN_NOT_RECOGNIZED", provider.ErrDevice, fatal},
	pkcs11.CKR_TOKEN_WRITE_PROTECTED:            {"CKR_TOKEN_WRITE_PROTECTED", provider.ErrAccessDenied, 0},
	pkcs11.CKR_UNWRAPPING_KEY_HANDLE_INVALID:    {"CKR_UNWRAPPING_KEY_HANDLE_INVALID", provider.ErrKeyLost, 0},
	pkcs11.CKR_UNWRAPPING_KEY_SIZE_RANGE:        {"CKR_UNWRAPPING_KEY_SIZE_RANGE", provider.ErrInvalidArgument, 0},
	pkcs11.CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT: {"CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT", provider.ErrInvalidArgument, 0},
	pkcs11.CKR_USER_ALREADY_LOGGED_IN:           {"CKR_USER_ALREADY_LOGGED_IN", provider.ErrAccessDenied, done},
	pkcs11.CKR_USER_NOT_LOGGED_IN:               {"CKR_USER_NOT_LOGGED_IN", provider.ErrAccessDenied, relogin},
	pkcs11.CKR_USER_PIN_NOT_INITIALIZED:         {"CKR_USER_PIN_NOT_INITIALIZED", provider.ErrAccessDenied, 0},
	pkcs11.CKR_USER_TYPE_INVALID:                {"CKR_USER_TYPE_INVALID", provider.ErrAccessDenied, 0},
	pkcs11.CKR_USER_ANOTHER_ALREADY_LOGGED_IN:   {"CKR_USER_ANOTHER_ALREADY_LOGGED_IN", provider.ErrAccessDenied, 0},
	pkcs11.CKR_USER_TOO_MANY_TYPES:              {"CKR_USER_TOO_MANY_TYPES", provider.ErrAccessDenied, 0},
	pkcs11.CKR_WRAPPED_KEY_INVALID:              {"CKR_WRAPPED_KEY_INVALID", provider.ErrInvalidArgument, 0},
	pkcs11.CKR_WRAPPED_KEY_LEN_RANGE:            {"CKR_WRAPPED_KEY_LEN_RANGE", provider.ErrInvalidArgument, 0},
	pkcs11.CKR_WRAPPING_KEY_HANDLE_INVALID:      {"CKR_WRAPPING_KEY_HANDLE_INVALID", provider.ErrKeyLost, 0},
	pkcs11.CKR_WRAPPING_KEY_SIZE_RANGE:          {"CKR_WRAPPING_KEY_SIZE_RANGE", provider.ErrInvalidArgument, 0},
	pkcs11.CKR_WRAPPING_KEY_TYPE_INCONSISTENT:   {"CKR_WRAPPING_KEY_TYPE_INCONSISTENT", provider.ErrInvalidArgument, 0},
	pkcs11.CKR_RANDOM_SEED_NOT_SUPPORTED:        {"CKR_RANDOM_SEED_NOT_SUPPORTED", provider.ErrNotSupported, 0},
	pkcs11.CKR_RANDOM_NO_RNG:                    {"CKR_RANDOM_NO_RNG", provider.ErrNotSupported, 0},
	pkcs11.CKR_DOMAIN_PARAMS_INVALID:            {"CKR_DOMAIN_PARAMS_INVALID", provider.ErrInvalidArgument, 0},
	pkcs11.CKR_CURVE_NOT_SUPPORTED:              {"CKR_CURVE_NOT_SUPPORTED", provider.ErrNotSupported, 0},
	pkcs11.CKR_BUFFER_TOO_SMALL:                 {"CKR_BUFFER_TOO_SMALL", provider.ErrDevice, 0},
	pkcs11.CKR_SAVED_STATE_INVALID:              {"CKR_SAVED_STATE_INVALID", provider.ErrInvalidArgument, 0},
	pkcs11.CKR_INFORMATION_SENSITIVE:            {"CKR_INFORMATION_SENSITIVE", provider.ErrAccessDenied, 0},
	pkcs11.CKR_STATE_UNSAVEABLE:                 {"CKR_STATE_UNSAVEABLE", provider.ErrNotSupported, 0},
	pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED:         {"CKR_CRYPTOKI_NOT_INITIALIZED", provider.ErrDevice, fatal},
	pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED:     {"CKR_CRYPTOKI_ALREADY_INITIALIZED", provider.ErrDevice, done},
	pkcs11.CKR_MUTEX_BAD:                        {"CKR_MUTEX_BAD", provider.ErrDevice, 0},
	pkcs11.CKR_MUTEX_NOT_LOCKED:                 {"CKR_MUTEX_NOT_LOCKED", provider.ErrDevice, 0},
	pkcs11.CKR_NEW_PIN_MODE:                     {"CKR_NEW_PIN_MODE", provider.ErrAccessDenied, 0},
	pkcs11.CKR_NEXT_OTP:                         {"CKR_NEXT_OTP", provider.ErrAccessDenied, 0},
	pkcs11.CKR_EXCEEDED_MAX_ITERATIONS:          {"CKR_EXCEEDED_MAX_ITERATIONS", provider.ErrDevice, 0},
	pkcs11.CKR_FIPS_SELF_TEST_FAILED:            {"CKR_FIPS_SELF_TEST_FAILED", provider.ErrDevice, 0},
	pkcs11.CKR_LIBRARY_LOAD_FAILED:              {"CKR_LIBRARY_LOAD_FAILED", provider.ErrDevice, 0},
	pkcs11.CKR_PIN_TOO_WEAK:                     {"CKR_PIN_TOO_WEAK", provider.ErrAccessDenied, 0},
	pkcs11.CKR_PUBLIC_KEY_INVALID:               {"CKR_PUBLIC_KEY_INVALID", provider.ErrInvalidArgument, 0},
	pkcs11.CKR_FUNCTION_REJECTED:                {"CKR_FUNCTION_REJECTED", provider.ErrAccessDenied, 0},
	ckrTokenResourceExceeded:                    {"CKR_TOKEN_RESOURCE_EXCEEDED", provider.ErrNoResources, 0},
	ckrOperationCancelFailed:                    {"CKR_OPERATION_CANCEL_FAILED", provider.ErrDevice, 0},
}

// decryptAEADError is ckrError for the C_Decrypt of an AEAD mechanism,
// where a failure means that the input did not authenticate: the codes
// of aeadTagCodes (see QuirkGCMTagGeneralError). SoftHSM2 2.6.1 answers a GCM tag that does not verify with
// CKR_GENERAL_ERROR (what its OpenSSL wrapper reports), not with
// CKR_ENCRYPTED_DATA_INVALID as PKCS#11 3.0 says; a device that really
// broke down mid-decryption is thus reported as a failed authentication,
// which is still a failure, and opaque as docs/semantics.md#errors wants.
func decryptAEADError(op string, err error) error {
	if rv := pkcs11.Error(0); errors.As(err, &rv) && aeadTagCodes[uint(rv)] != "" {
		return ckr{lookupCKR(uint(rv)).name, provider.ErrAuthentication, 0}.tokenError(op, uint(rv))
	}
	return ckrError(op, err)
}

// lookupCKR returns the row of a return value; values outside the table
// are provider.ErrDevice.
func lookupCKR(code uint) ckr {
	if row, ok := ckrTable[code]; ok {
		return row
	}
	name := fmt.Sprintf("CKR_0x%08X", code)
	if code >= pkcs11.CKR_VENDOR_DEFINED {
		name = fmt.Sprintf("CKR_VENDOR_DEFINED+0x%X", code-pkcs11.CKR_VENDOR_DEFINED)
	}
	return ckr{name: name, err: provider.ErrDevice}
}

// tokenError is the TokenError of this row for op and the return value
// code.
func (row ckr) tokenError(op string, code uint) *TokenError {
	return &TokenError{Op: op, Code: code, Name: row.name, Err: row.err, traits: row.traits}
}

// ckrError turns an error of package pkcs11 into a TokenError for op.
// Other errors (already wrapped by this package) are returned as they are.
func ckrError(op string, err error) error {
	if err == nil {
		// Before errors.As, whose target would escape: one allocation on
		// every successful token operation.
		return nil
	}
	var rv pkcs11.Error
	if !errors.As(err, &rv) {
		return err
	}
	row := lookupCKR(uint(rv))
	if row.err == nil {
		// CKR_OK is never an error; a library that returns it as one is
		// broken.
		row = ckr{name: row.name, err: provider.ErrDevice}
	}
	return row.tokenError(op, uint(rv))
}

// hasTrait reports whether err is a PKCS#11 return value (raw or wrapped
// by ckrError) with trait t.
func hasTrait(err error, t trait) bool {
	var te *TokenError
	if errors.As(err, &te) {
		return te.traits&t != 0
	}
	var rv pkcs11.Error
	if errors.As(err, &rv) {
		return lookupCKR(uint(rv)).traits&t != 0
	}
	return false
}
