//go:build cgo

package hsm

/*
#include <stdlib.h>

typedef unsigned long wh_ulong;

// The single-part calls: C_Encrypt, C_Decrypt, C_Sign and C_Digest have
// this one shape (PKCS#11 3.0 §5.8-5.11).
typedef wh_ulong (*wh_single)(wh_ulong session, unsigned char *in, wh_ulong in_len,
	unsigned char *out, wh_ulong *out_len);

// wh_functions is the head of CK_FUNCTION_LIST (PKCS#11 2.40 and 3.0
// §4.1.6): the version, then the function pointers in the standard's
// order, up to C_Sign. The rest of the list is never read here.
struct wh_functions {
	struct { unsigned char major, minor; } version;
	void *C_Initialize, *C_Finalize, *C_GetInfo, *C_GetFunctionList,
		*C_GetSlotList, *C_GetSlotInfo, *C_GetTokenInfo, *C_GetMechanismList,
		*C_GetMechanismInfo, *C_InitToken, *C_InitPIN, *C_SetPIN,
		*C_OpenSession, *C_CloseSession, *C_CloseAllSessions, *C_GetSessionInfo,
		*C_GetOperationState, *C_SetOperationState, *C_Login, *C_Logout,
		*C_CreateObject, *C_CopyObject, *C_DestroyObject, *C_GetObjectSize,
		*C_GetAttributeValue, *C_SetAttributeValue, *C_FindObjectsInit,
		*C_FindObjects, *C_FindObjectsFinal, *C_EncryptInit;
	wh_single C_Encrypt;
	void *C_EncryptUpdate, *C_EncryptFinal, *C_DecryptInit;
	wh_single C_Decrypt;
	void *C_DecryptUpdate, *C_DecryptFinal, *C_DigestInit;
	wh_single C_Digest;
	void *C_DigestUpdate, *C_DigestKey, *C_DigestFinal, *C_SignInit;
	wh_single C_Sign;
};

// wh_ctx is package pkcs11's struct ctx (v1.1.2, all but Windows): the
// library's handle and the function list it got from C_GetFunctionList.
struct wh_ctx {
	void *handle;
	struct wh_functions *sym;
};

// wh_functions_of returns the function list of a struct ctx, or NULL
// when it does not look like one (a version other than 2.x or 3.x).
static struct wh_functions *wh_functions_of(void *ctx) {
	struct wh_functions *f = ctx == NULL ? NULL : ((struct wh_ctx *)ctx)->sym;
	if (f == NULL || f->version.major < 2 || f->version.major > 3) {
		return NULL;
	}
	return f;
}

// wh_call makes the single-part call kind (1 encrypt, 2 decrypt, 3 sign,
// 4 digest). out NULL asks for the length only.
static wh_ulong wh_call(struct wh_functions *f, int kind, wh_ulong s, unsigned char *in,
		wh_ulong in_len, unsigned char *out, wh_ulong *out_len) {
	wh_single fn = NULL;
	switch (kind) {
	case 1: fn = f->C_Encrypt; break;
	case 2: fn = f->C_Decrypt; break;
	case 3: fn = f->C_Sign; break;
	case 4: fn = f->C_Digest; break;
	}
	if (fn == NULL) {
		return 0x54; // CKR_FUNCTION_NOT_SUPPORTED
	}
	return fn(s, in, in_len, out, out_len);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/miekg/pkcs11"
)

// Why this file calls into the module itself: package pkcs11 (v1.1.2)
// makes each single-part call twice, a length query with a NULL output
// and then the call with a buffer of the length the token answered, and
// gives the call no buffer of the caller's. Tokens get that length wrong
// (NSS softokn 3.87 answers one too small for AES-GCM, then
// CKR_BUFFER_TOO_SMALL to the real call), and it fails with the
// operation still active on the session. The algorithm fixes the length
// of every output the backend asks for (docs/semantics.md#algorithms:
// AEAD seal and open, signatures, MACs, digests), so one call with a
// buffer of that length is all PKCS#11 needs, and it saves the length
// query.
//
// The calls must go through the very function list that package pkcs11
// calls through: a module may give each C_GetFunctionList call an
// instance of its own (p11-kit's proxy and client modules do), which
// shares no initialisation, sessions or objects with the others. Package
// pkcs11 does not export it, so functionsOf reads it from the Ctx, whose
// layout is that of the version go.mod pins (TestPKCS11Version guards it).

// functionList is a module's CK_FUNCTION_LIST, as far as this file reads
// it.
type functionList *C.struct_wh_functions

// functionsOf returns the function list that ctx calls through.
func functionsOf(ctx *pkcs11.Ctx) (functionList, error) {
	// A pkcs11.Ctx is struct{ ctx *C.struct_ctx }.
	fns := C.wh_functions_of(*(*unsafe.Pointer)(unsafe.Pointer(ctx)))
	if fns == nil {
		return nil, errors.New("no PKCS#11 2.x or 3.x function list")
	}
	return functionList(fns), nil
}

// cString is a NUL-terminated string in C memory, which a module may keep
// a pointer to (pReserved of C_Initialize).
type cString C.char

func newCString(s string) *cString { return (*cString)(C.CString(s)) }

func (c *cString) ptr() unsafe.Pointer { return unsafe.Pointer(c) }

func (c *cString) free() { C.free(unsafe.Pointer(c)) }

// singlePart is one of the single-part calls that end an operation which
// C_EncryptInit, C_DecryptInit, C_SignInit or C_DigestInit began.
type singlePart C.int

const (
	callEncrypt singlePart = 1
	callDecrypt singlePart = 2
	callSign    singlePart = 3
	callDigest  singlePart = 4
)

// maxRetries bounds the calls answered CKR_BUFFER_TOO_SMALL that are made
// again with the length the token asked for.
const maxRetries = 2

// stub is what an empty input or output points to: some tokens
// (SoftHSM2) refuse a NULL pointer even with a length of 0.
var stub [1]byte

// finish makes call on session s, whose operation its init began, for
// input in and an output of size bytes, the length the algorithm fixes.
// It passes a buffer of that length; a token that answers
// CKR_BUFFER_TOO_SMALL gets the call again with a buffer of the length it
// reported (or, when that is not larger or beyond limit, the length its
// answer to a length query says), when that is larger and at most limit
// bytes. It returns the
// output, in memory of its own, or the token's answer as a pkcs11.Error;
// active says that the operation may still be active on s after the
// failure, so s must not serve another call (see endOperation).
func (m *module) finish(call singlePart, s pkcs11.SessionHandle, in []byte, size, limit int) (out []byte, active bool, err error) {
	out = make([]byte, size, max(size, 1))
	rv, n := m.call(call, s, in, out)
	for tries := 0; rv == pkcs11.CKR_BUFFER_TOO_SMALL && tries < maxRetries; tries++ {
		if n <= uint(len(out)) || n > uint(limit) {
			// The token did not say how much it needs, or said more than
			// any answer takes (NSS softokn 3.87 leaves the length as it
			// was, sets 0, or leaves what was on its stack): ask it with
			// a length query, which leaves the operation active.
			if qrv, qn := m.call(call, s, in, nil); qrv == pkcs11.CKR_OK {
				n = qn
			}
		}
		if n <= uint(len(out)) || n > uint(limit) {
			break
		}
		clear(out)
		out = make([]byte, n)
		rv, n = m.call(call, s, in, out)
	}
	switch {
	case rv == pkcs11.CKR_OK && n < uint(size):
		// Shorter than the algorithm's output: a token that cuts its
		// answer to the buffer (QuirkTruncatedHMAC) is never believed.
		clear(out)
		return nil, false, fmt.Errorf("the token answered %d bytes where the algorithm gives %d: %w", n, size, pkcs11.Error(pkcs11.CKR_GENERAL_ERROR))
	case rv == pkcs11.CKR_OK && n <= uint(len(out)):
		return out[:n], false, nil
	case rv == pkcs11.CKR_OK:
		// The call ended the operation, but the token claims to have
		// written more than the buffer holds.
		clear(out)
		return nil, false, fmt.Errorf("the token answered %d bytes into a buffer of %d: %w", n, len(out), pkcs11.Error(pkcs11.CKR_GENERAL_ERROR))
	}
	clear(out)
	if rv == pkcs11.CKR_BUFFER_TOO_SMALL {
		// PKCS#11: the operation stays active for a call with a larger
		// buffer, which the token's answer did not allow.
		return nil, true, pkcs11.Error(rv)
	}
	return nil, m.stillActive(call, s, in), pkcs11.Error(rv)
}

// stillActive reports whether the operation of call is still active on s
// after the call failed. PKCS#11 ends an operation on any failure but
// CKR_BUFFER_TOO_SMALL; a token that does not is found out by asking for
// the output's length, which succeeds (and leaves the operation active)
// only while one is. A query that fails ends whatever was active, so only
// its success, or CKR_BUFFER_TOO_SMALL, counts as active.
func (m *module) stillActive(call singlePart, s pkcs11.SessionHandle, in []byte) bool {
	rv, _ := m.call(call, s, in, nil)
	return rv == pkcs11.CKR_OK || rv == pkcs11.CKR_BUFFER_TOO_SMALL
}

// call makes one single-part call with out as the output buffer (nil: a
// length query), and returns the token's answer and the length it
// reported.
func (m *module) call(call singlePart, s pkcs11.SessionHandle, in, out []byte) (uint, uint) {
	inPtr := &stub[0]
	if len(in) > 0 {
		inPtr = &in[0]
	}
	var outPtr *C.uchar
	n := C.wh_ulong(len(out))
	if out != nil {
		outPtr = (*C.uchar)(unsafe.Pointer(unsafe.SliceData(out)))
	}
	rv := C.wh_call((*C.struct_wh_functions)(m.fns), C.int(call), C.wh_ulong(s), (*C.uchar)(unsafe.Pointer(inPtr)), C.wh_ulong(len(in)), outPtr, &n)
	return uint(rv), uint(n)
}
