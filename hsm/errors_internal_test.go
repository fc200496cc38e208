//go:build cgo

package hsm

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"testing"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/provider"
)

// TestCKRTable checks every row of the table against an independent
// statement of the mapping: the sentinel each CK_RV must become, and the
// traits that drive recovery.
func TestCKRTable(t *testing.T) {
	var (
		inval   = provider.ErrInvalidArgument
		notsup  = provider.ErrNotSupported
		badmsg  = provider.ErrAuthentication
		nfile   = provider.ErrNoResources
		access  = provider.ErrAccessDenied
		lost    = provider.ErrKeyLost
		devErr  = provider.ErrDevice
		unknown = error(nil)
	)
	want := map[string]struct {
		err    error
		traits trait
	}{
		"CKR_OK": {unknown, 0}, "CKR_CANCEL": {devErr, 0}, "CKR_HOST_MEMORY": {nfile, 0},
		"CKR_SLOT_ID_INVALID": {devErr, evict | fatal}, "CKR_GENERAL_ERROR": {devErr, transient | hidden},
		"CKR_FUNCTION_FAILED": {devErr, 0}, "CKR_ARGUMENTS_BAD": {inval, 0}, "CKR_NO_EVENT": {devErr, 0},
		"CKR_NEED_TO_CREATE_THREADS": {devErr, 0}, "CKR_CANT_LOCK": {devErr, 0},
		"CKR_ATTRIBUTE_READ_ONLY": {inval, 0}, "CKR_ATTRIBUTE_SENSITIVE": {access, 0},
		"CKR_ATTRIBUTE_TYPE_INVALID": {inval, unknownAttribute}, "CKR_ATTRIBUTE_VALUE_INVALID": {inval, 0},
		"CKR_ACTION_PROHIBITED": {access, 0}, "CKR_DATA_INVALID": {inval, 0}, "CKR_DATA_LEN_RANGE": {inval, 0},
		"CKR_DEVICE_ERROR": {devErr, evict | fatal}, "CKR_DEVICE_MEMORY": {nfile, 0}, "CKR_DEVICE_REMOVED": {devErr, evict | fatal},
		"CKR_ENCRYPTED_DATA_INVALID": {badmsg, 0}, "CKR_ENCRYPTED_DATA_LEN_RANGE": {badmsg, 0},
		"CKR_FUNCTION_CANCELED": {devErr, 0}, "CKR_FUNCTION_NOT_PARALLEL": {notsup, 0},
		"CKR_FUNCTION_NOT_SUPPORTED": {notsup, 0}, "CKR_KEY_HANDLE_INVALID": {lost, hidden},
		"CKR_KEY_SIZE_RANGE": {inval, 0}, "CKR_KEY_TYPE_INCONSISTENT": {inval, 0}, "CKR_KEY_NOT_NEEDED": {inval, 0},
		"CKR_KEY_CHANGED": {lost, 0}, "CKR_KEY_NEEDED": {inval, 0}, "CKR_KEY_INDIGESTIBLE": {notsup, 0},
		"CKR_KEY_FUNCTION_NOT_PERMITTED": {access, 0}, "CKR_KEY_NOT_WRAPPABLE": {access, 0},
		"CKR_KEY_UNEXTRACTABLE": {access, 0}, "CKR_MECHANISM_INVALID": {notsup, 0},
		"CKR_MECHANISM_PARAM_INVALID": {inval, 0}, "CKR_OBJECT_HANDLE_INVALID": {lost, hidden},
		"CKR_OPERATION_ACTIVE": {devErr, evict}, "CKR_OPERATION_NOT_INITIALIZED": {devErr, evict},
		"CKR_PIN_INCORRECT": {access, 0}, "CKR_PIN_INVALID": {access, 0}, "CKR_PIN_LEN_RANGE": {access, 0},
		"CKR_PIN_EXPIRED": {access, 0}, "CKR_PIN_LOCKED": {access, 0},
		"CKR_SESSION_CLOSED": {devErr, evict}, "CKR_SESSION_COUNT": {nfile, 0},
		"CKR_SESSION_HANDLE_INVALID": {devErr, evict}, "CKR_SESSION_PARALLEL_NOT_SUPPORTED": {notsup, 0},
		"CKR_SESSION_READ_ONLY": {access, 0}, "CKR_SESSION_EXISTS": {devErr, 0},
		"CKR_SESSION_READ_ONLY_EXISTS": {access, 0}, "CKR_SESSION_READ_WRITE_SO_EXISTS": {access, 0},
		"CKR_SIGNATURE_INVALID": {badmsg, 0}, "CKR_SIGNATURE_LEN_RANGE": {badmsg, 0},
		"CKR_TEMPLATE_INCOMPLETE": {inval, 0}, "CKR_TEMPLATE_INCONSISTENT": {inval, transient},
		"CKR_TOKEN_NOT_PRESENT": {devErr, evict | fatal}, "CKR_TOKEN_NOT_RECOGNIZED": {devErr, fatal},
		"CKR_TOKEN_WRITE_PROTECTED": {access, 0}, "CKR_UNWRAPPING_KEY_HANDLE_INVALID": {lost, 0},
		"CKR_UNWRAPPING_KEY_SIZE_RANGE": {inval, 0}, "CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT": {inval, 0},
		"CKR_USER_ALREADY_LOGGED_IN": {access, done}, "CKR_USER_NOT_LOGGED_IN": {access, relogin},
		"CKR_USER_PIN_NOT_INITIALIZED": {access, 0}, "CKR_USER_TYPE_INVALID": {access, 0},
		"CKR_USER_ANOTHER_ALREADY_LOGGED_IN": {access, 0}, "CKR_USER_TOO_MANY_TYPES": {access, 0},
		"CKR_WRAPPED_KEY_INVALID": {inval, 0}, "CKR_WRAPPED_KEY_LEN_RANGE": {inval, 0},
		"CKR_WRAPPING_KEY_HANDLE_INVALID": {lost, 0}, "CKR_WRAPPING_KEY_SIZE_RANGE": {inval, 0},
		"CKR_WRAPPING_KEY_TYPE_INCONSISTENT": {inval, 0}, "CKR_RANDOM_SEED_NOT_SUPPORTED": {notsup, 0},
		"CKR_RANDOM_NO_RNG": {notsup, 0}, "CKR_DOMAIN_PARAMS_INVALID": {inval, 0},
		"CKR_CURVE_NOT_SUPPORTED": {notsup, 0}, "CKR_BUFFER_TOO_SMALL": {devErr, 0},
		"CKR_SAVED_STATE_INVALID": {inval, 0}, "CKR_INFORMATION_SENSITIVE": {access, 0},
		"CKR_STATE_UNSAVEABLE": {notsup, 0}, "CKR_CRYPTOKI_NOT_INITIALIZED": {devErr, fatal},
		"CKR_CRYPTOKI_ALREADY_INITIALIZED": {devErr, done}, "CKR_MUTEX_BAD": {devErr, 0},
		"CKR_MUTEX_NOT_LOCKED": {devErr, 0}, "CKR_NEW_PIN_MODE": {access, 0}, "CKR_NEXT_OTP": {access, 0},
		"CKR_EXCEEDED_MAX_ITERATIONS": {devErr, 0}, "CKR_FIPS_SELF_TEST_FAILED": {devErr, 0},
		"CKR_LIBRARY_LOAD_FAILED": {devErr, 0}, "CKR_PIN_TOO_WEAK": {access, 0},
		"CKR_PUBLIC_KEY_INVALID": {inval, 0}, "CKR_FUNCTION_REJECTED": {access, 0},
		"CKR_TOKEN_RESOURCE_EXCEEDED": {nfile, 0}, "CKR_OPERATION_CANCEL_FAILED": {devErr, 0},
	}
	require.Len(t, ckrTable, len(want), "one expectation per row")
	for code, row := range ckrTable {
		t.Run(row.name, func(t *testing.T) {
			w, ok := want[row.name]
			require.True(t, ok, "no expectation for %s", row.name)
			assert.Equal(t, w.traits, row.traits, "traits")
			err := ckrError("sign", pkcs11.Error(code))
			// Callers tell answers apart by the TokenError, never by the
			// message.
			var te *TokenError
			require.ErrorAs(t, fmt.Errorf("wrapped: %w", err), &te)
			assert.Equal(t, TokenError{Op: "sign", Code: code, Name: row.name, Err: te.Err, traits: w.traits}, *te)
			if w.err == nil {
				// CKR_OK returned as an error is a broken library.
				require.ErrorIs(t, err, provider.ErrDevice)
				assert.Equal(t, provider.ErrDevice, te.Err)
				return
			}
			assert.Equal(t, w.err, te.Err)
			require.ErrorIs(t, err, w.err)
			assert.Equal(t, fmt.Sprintf("hsm: sign: %s: %v", row.name, w.err), err.Error())
			assert.Equal(t, w.traits&evict != 0, hasTrait(err, evict))
			assert.Equal(t, w.traits&relogin != 0, hasTrait(pkcs11.Error(code), relogin), "raw pkcs11.Error")
		})
	}
	t.Run("unknown", func(t *testing.T) {
		err := ckrError("digest", pkcs11.Error(0x1234))
		require.ErrorIs(t, err, provider.ErrDevice)
		require.Equal(t, "hsm: digest: CKR_0x00001234: device error", err.Error())
		err = ckrError("digest", pkcs11.Error(pkcs11.CKR_VENDOR_DEFINED+7))
		require.ErrorIs(t, err, provider.ErrDevice)
		require.Equal(t, "hsm: digest: CKR_VENDOR_DEFINED+0x7: device error", err.Error())
		var te *TokenError
		require.ErrorAs(t, err, &te)
		assert.Equal(t, uint(pkcs11.CKR_VENDOR_DEFINED+7), te.Code)
		assert.Equal(t, "CKR_VENDOR_DEFINED+0x7", te.Name)
	})
	t.Run("not a PKCS#11 error", func(t *testing.T) {
		e := errors.New("hsm: already wrapped")
		require.Same(t, e, ckrError("x", e))
		require.False(t, hasTrait(e, evict))
	})
	t.Run("AEAD decryption", func(t *testing.T) {
		// SoftHSM2 2.6.1's answer to a GCM tag that does not verify.
		err := decryptAEADError("A128GCM: decrypt", pkcs11.Error(pkcs11.CKR_GENERAL_ERROR))
		require.ErrorIs(t, err, provider.ErrAuthentication)
		var te *TokenError
		require.ErrorAs(t, err, &te)
		assert.Equal(t, TokenError{Op: "A128GCM: decrypt", Code: pkcs11.CKR_GENERAL_ERROR, Name: "CKR_GENERAL_ERROR", Err: provider.ErrAuthentication}, *te)
		require.False(t, hasTrait(err, transient|hidden), "the override's traits, not the table's")
		require.ErrorIs(t, decryptAEADError("d", pkcs11.Error(pkcs11.CKR_ENCRYPTED_DATA_INVALID)), provider.ErrAuthentication)
		require.ErrorIs(t, decryptAEADError("d", pkcs11.Error(pkcs11.CKR_KEY_HANDLE_INVALID)), provider.ErrKeyLost)
	})
}

// TestConstants checks the PKCS#11 3.0 constants of constants.go against
// the values of the OASIS pkcs11t.h, and against the headers found on this
// machine (NSS and p11-kit install copies).
func TestConstants(t *testing.T) {
	oasis := map[string]uint{
		"CKK_EC_EDWARDS": 0x40, "CKM_EC_EDWARDS_KEY_PAIR_GEN": 0x1055, "CKM_EDDSA": 0x1057,
		"CKR_TOKEN_RESOURCE_EXCEEDED": 0x201, "CKR_OPERATION_CANCEL_FAILED": 0x202,
	}
	ours := map[string]uint{
		"CKK_EC_EDWARDS": ckkECEdwards, "CKM_EC_EDWARDS_KEY_PAIR_GEN": ckmECEdwardsKeyPairGen, "CKM_EDDSA": ckmEdDSA,
		"CKR_TOKEN_RESOURCE_EXCEEDED": ckrTokenResourceExceeded, "CKR_OPERATION_CANCEL_FAILED": ckrOperationCancelFailed,
	}
	require.Equal(t, oasis, ours)
	define := regexp.MustCompile(`(?m)^#define\s+(CK[A-Z]_[A-Z0-9_]+)\s+\(?\s*(0x[0-9A-Fa-f]+)UL\s*\)?`)
	checked := map[string]bool{}
	for _, header := range []string{"/usr/include/nss/pkcs11t.h", "/usr/include/p11-kit-1/p11-kit/pkcs11.h"} {
		src, err := os.ReadFile(header)
		if err != nil {
			continue
		}
		for _, m := range define.FindAllStringSubmatch(string(src), -1) {
			v, ok := ours[m[1]]
			if !ok {
				continue
			}
			n, err := strconv.ParseUint(m[2], 0, 64)
			require.NoError(t, err)
			assert.Equal(t, uint(n), v, "%s in %s", m[1], header)
			checked[m[1]] = true
		}
	}
	t.Logf("checked %d of %d constants against the headers of this machine", len(checked), len(ours))
}
