//go:build cgo

package hsm

import (
	"errors"
	"sync/atomic"

	"github.com/miekg/pkcs11"
)

// aeadTagCodes are the return values of an AEAD C_Decrypt that mean the
// input did not authenticate, besides the standard's
// (QuirkGCMTagGeneralError).
var aeadTagCodes = map[uint]string{pkcs11.CKR_GENERAL_ERROR: QuirkGCMTagGeneralError}

// sessionCheckLabel labels the session data object that the backend
// creates to find out whether a read-only session may create objects.
const sessionCheckLabel = "wasihsm: read-only session check"

// readWriteObjects reports whether the token was found to need a
// read-write session to create objects (QuirkReadWriteObjects).
func (c *capabilities) readWriteObjects() bool { return c.dev.rwObjects.Load() }

// checkReadOnlyCreation finds out whether read-only session s may create
// a session object, by creating a public session data object and
// destroying it: QuirkReadWriteObjects when the token answers
// CKR_SESSION_READ_ONLY. Another answer leaves the question open (the
// token may take no data objects): the backend keeps read-only sessions.
func (t *token) checkReadOnlyCreation(s pkcs11.SessionHandle) bool {
	obj, err := t.p.CreateObject(s, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_DATA),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, sessionCheckLabel),
	})
	if err == nil {
		_ = t.p.DestroyObject(s, obj)
		return false
	}
	return errors.Is(err, pkcs11.Error(pkcs11.CKR_SESSION_READ_ONLY))
}

// quirkFlags are the quirks found on a token that change what the
// backend does, set as they are found.
type quirkFlags struct {
	// rwObjects: QuirkReadWriteObjects.
	rwObjects atomic.Bool
	// rwChecked: the read-only session check has run.
	rwChecked atomic.Bool
	// pairsDecrypt: QuirkPairsDecrypt.
	pairsDecrypt atomic.Bool
	// gcmShortLength, truncatedMAC, unusableLength: QuirkGCMShortLength,
	// QuirkTruncatedHMAC, QuirkUnusableLength (see noticeLengths).
	gcmShortLength, truncatedMAC, unusableLength atomic.Bool
	// copyableTokenObjects: QuirkCopyableTokenObjects (noCopyable is set
	// with it).
	copyableTokenObjects atomic.Bool
}

// pairsDecryptDrop are the attributes that QuirkPairsDecrypt leaves out
// of a key pair's templates: CKA_DECRYPT of the private key and
// CKA_ENCRYPT of the public key.
var pairsDecryptDrop = &pairDrop{priv: []uint{pkcs11.CKA_DECRYPT}, pub: []uint{pkcs11.CKA_ENCRYPT}}

// Quirks lists the names of the quirks found on the token so far: those
// found by its answers (QuirkReadWriteObjects, QuirkNoCopyable) and by
// the questions of noticeLengths while probing; what
// probing found unavailable is in [Backend.Probe].
func (b *Backend) Quirks() []string {
	var out []string
	if b.caps.readWriteObjects() {
		out = append(out, QuirkReadWriteObjects)
	}
	if b.caps.dev.noCopyable.Load() {
		out = append(out, QuirkNoCopyable)
	}
	for _, q := range []struct {
		found *atomic.Bool
		name  string
	}{
		{&b.caps.dev.gcmShortLength, QuirkGCMShortLength},
		{&b.caps.dev.unusableLength, QuirkUnusableLength},
		{&b.caps.dev.truncatedMAC, QuirkTruncatedHMAC},
	} {
		if q.found.Load() {
			out = append(out, q.name)
		}
	}
	return out
}

// openMainSession opens the persistent session on slot: read-only, as
// pooled sessions (see openSession), unless the token needs a read-write
// one to create objects (QuirkReadWriteObjects).
func (b *Backend) openMainSession(slot uint) (pkcs11.SessionHandle, error) {
	if b.caps.readWriteObjects() {
		return b.p.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	}
	return b.openSession(slot)
}

// settleMainSession runs the read-only session check on the token once
// (see checkReadOnlyCreation) and, when the token needs it, replaces the
// persistent session with a read-write one, which counts against the
// token's read-write session limit (ulMaxRwSessionCount). The caller
// holds mainLock; the persistent session is open, and logged in when the
// backend logs in; no object is in it yet.
func (b *Backend) settleMainSession() error {
	if b.caps.dev.rwChecked.Load() {
		return nil
	}
	if b.info.Flags&pkcs11.CKF_WRITE_PROTECTED != 0 || !b.checkReadOnlyCreation(b.main) {
		b.caps.dev.rwChecked.Store(true)
		return nil
	}
	rw, err := b.p.OpenSession(b.pool.Load().slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return ckrError("open the persistent session read-write (the token creates objects in read-write sessions only; see its read-write session limit)", err)
	}
	// The read-write session opens before the read-only one closes, so
	// that the login, which ends with the application's last session,
	// stays.
	b.closeSession(b.main)
	b.main = rw
	b.caps.dev.rwObjects.Store(true)
	b.caps.dev.rwChecked.Store(true)
	if b.login {
		return b.loginLocked()
	}
	return nil
}

// Slot is the slot of the backend's token when it was opened.
func (b *Backend) Slot() uint { return b.slot }
