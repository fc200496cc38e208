//go:build cgo

package hsm

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"strings"
	"unsafe"

	"github.com/miekg/pkcs11"

	"github.com/wasihsm/wasihsm/provider"
)

// token is one token of a loaded module, as both a [Backend] and an
// [Admin] use it: the module, the token's slot and what it reported when
// it was opened, its capabilities, and whether it is used with a login.
// The fields are set before the token is shared and not changed after,
// except login, which [Admin.Login] sets under Admin.mu.
type token struct {
	mod *module
	p   *pkcs11.Ctx
	// slot is the token's slot when it was opened. A Backend's sessions
	// open on their pool's slot instead, which a recovery finds again.
	slot uint
	info pkcs11.TokenInfo
	caps *capabilities
	// login says whether the user is logged in (an Admin) or logs in (a
	// Backend with a PIN source); objects made then are private.
	login bool
	// persistent says that the keys made are token objects (an Admin's),
	// not session objects (a Backend's).
	persistent bool
}

// errReinit is the answer of every call that finds the module's gate
// closed (see module.enter): a recovery is initialising it again.
var errReinit = fmt.Errorf("hsm: the module is being initialised again after a token failure; retry: %w", provider.ErrDevice)

// openToken finds the token that sel selects on mod, checks that it is
// initialised, and discovers its mechanisms. The caller is in mod's gate.
func openToken(mod *module, sel TokenSelector) (token, error) {
	slot, info, err := selectToken(mod.ctx, sel)
	if err != nil {
		return token{}, err
	}
	if info.Flags&pkcs11.CKF_TOKEN_INITIALIZED == 0 {
		return token{}, fmt.Errorf("hsm: token %q in slot %d is not initialised: %w", info.Label, slot, provider.ErrDevice)
	}
	caps, err := discover(mod.ctx, slot)
	if err != nil {
		return token{}, err
	}
	return token{mod: mod, p: mod.ctx, slot: slot, info: info, caps: caps}, nil
}

// loginRequired reports whether the token wants a login
// (CKF_LOGIN_REQUIRED) to use private objects.
func (t *token) loginRequired() bool { return t.info.Flags&pkcs11.CKF_LOGIN_REQUIRED != 0 }

// noPIN is the answer of a login without a PIN source.
func (t *token) noPIN() error {
	return fmt.Errorf("hsm: login: token %q requires a login and no PIN source is configured: %w", t.info.Label, provider.ErrAccessDenied)
}

// logIn logs the user in through session s with the PIN that pin returns
// (nil: noPIN). The PIN is asked for now and zeroed as soon as C_Login
// returns. A login the token already has counts as done.
func (t *token) logIn(s pkcs11.SessionHandle, pin func() ([]byte, error)) error {
	if pin == nil {
		return t.noPIN()
	}
	secret, err := pin()
	if err != nil {
		return fmt.Errorf("hsm: login: read the PIN: %w: %w", provider.ErrAccessDenied, err)
	}
	defer clear(secret)
	// A string view of the PIN, not a copy: only the bytes above exist
	// in Go memory, and they are zeroed. (pkcs11.Ctx.Login copies the PIN
	// into C memory, which it frees without zeroing.)
	err = t.p.Login(s, pkcs11.CKU_USER, unsafe.String(unsafe.SliceData(secret), len(secret)))
	if err != nil && !hasTrait(err, done) {
		return ckrError("login", err)
	}
	return nil
}

// findObjects returns the objects that match tmpl on session s: at most
// max, or all of them when max is 0.
func (t *token) findObjects(s pkcs11.SessionHandle, tmpl []*pkcs11.Attribute, max int) ([]pkcs11.ObjectHandle, error) {
	if err := t.p.FindObjectsInit(s, tmpl); err != nil {
		return nil, err
	}
	n := max
	if n == 0 {
		n = 64
	}
	var all []pkcs11.ObjectHandle
	for {
		objs, _, err := t.p.FindObjects(s, n)
		if err != nil {
			_ = t.p.FindObjectsFinal(s)
			return nil, err
		}
		all = append(all, objs...)
		if len(objs) == 0 || max > 0 {
			break
		}
	}
	return all, t.p.FindObjectsFinal(s)
}

// publicHalf finds the public-key object of a key pair: the one with its
// id, or without an id its label; 0 when there is not exactly one.
func (t *token) publicHalf(s pkcs11.SessionHandle, label string, id []byte) (pkcs11.ObjectHandle, error) {
	tmpl := selector(pkcs11.CKO_PUBLIC_KEY, "", id)
	if len(id) == 0 {
		tmpl = selector(pkcs11.CKO_PUBLIC_KEY, label, nil)
	}
	found, err := t.findObjects(s, tmpl, 2)
	if err != nil || len(found) != 1 {
		return 0, err
	}
	return found[0], nil
}

// selector is a template for token objects of a class with a label and an
// id (each only when set).
func selector(class uint, label string, id []byte) []*pkcs11.Attribute {
	t := []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true)}
	if class != anyClass {
		t = append(t, pkcs11.NewAttribute(pkcs11.CKA_CLASS, class))
	}
	if label != "" {
		t = append(t, pkcs11.NewAttribute(pkcs11.CKA_LABEL, label))
	}
	if len(id) > 0 {
		t = append(t, pkcs11.NewAttribute(pkcs11.CKA_ID, id))
	}
	return t
}

// anyClass makes selector match objects of every class.
const anyClass = ^uint(0)

// attr reads attribute typ of obj on session s.
func (t *token) attr(s pkcs11.SessionHandle, obj pkcs11.ObjectHandle, typ uint) ([]byte, error) {
	got, err := t.p.GetAttributeValue(s, obj, []*pkcs11.Attribute{pkcs11.NewAttribute(typ, nil)})
	if err != nil || len(got) != 1 {
		return nil, cmp.Or(err, fmt.Errorf("hsm: attribute 0x%x: no value: %w", typ, provider.ErrDevice))
	}
	return got[0].Value, nil
}

// trimPadding removes the blank (and, from careless modules, NUL) padding
// of CK_TOKEN_INFO and CK_SLOT_INFO strings.
func trimPadding(s string) string { return strings.TrimRight(s, " \x00") }

// selectToken returns the one slot whose token sel matches, with the
// token's information.
func selectToken(p *pkcs11.Ctx, sel TokenSelector) (uint, pkcs11.TokenInfo, error) {
	slots, err := p.GetSlotList(true)
	if err != nil {
		return 0, pkcs11.TokenInfo{}, ckrError("list slots", err)
	}
	var (
		found []uint
		info  pkcs11.TokenInfo
	)
	for _, slot := range slots {
		if sel.SlotID != nil && *sel.SlotID != slot {
			continue
		}
		ti, err := p.GetTokenInfo(slot)
		if err != nil {
			// A slot whose token went away between the two calls.
			continue
		}
		if !matchText(sel.Label, ti.Label) || !matchText(sel.Serial, ti.SerialNumber) ||
			!matchText(sel.Manufacturer, ti.ManufacturerID) || !matchText(sel.Model, ti.Model) {
			continue
		}
		if sel.SlotDescription != "" {
			si, err := p.GetSlotInfo(slot)
			if err != nil || !matchText(sel.SlotDescription, si.SlotDescription) {
				continue
			}
		}
		found = append(found, slot)
		info = ti
	}
	switch len(found) {
	case 0:
		return 0, info, fmt.Errorf("hsm: no token matches %s: %w", sel, provider.ErrNotFound)
	case 1:
		info.Label = trimPadding(info.Label)
		return found[0], info, nil
	}
	return 0, info, fmt.Errorf("hsm: %d tokens match %s (slots %v); select by serial or slot id: %w", len(found), sel, found, provider.ErrInvalidArgument)
}

// matchText reports whether a selector field matches a token field: an
// empty selector field matches everything.
func matchText(want, have string) bool { return want == "" || want == trimPadding(have) }

// Slots lists the slots of the PKCS#11 module at path, with their tokens
// and what each token can do, for `wasihsm slots`. It needs no PIN. It
// loads the module with initArgs (see Config.InitArgs), or shares the
// process's instance of it, and releases it before returning.
func Slots(ctx context.Context, path, initArgs string) ([]SlotInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, timeoutError(err)
	}
	mod, err := openModule(path, initArgs)
	if err != nil {
		return nil, err
	}
	defer func() { _ = mod.release() }()
	p := mod.ctx
	ids, err := p.GetSlotList(false)
	if err != nil {
		return nil, ckrError("list slots", err)
	}
	out := make([]SlotInfo, 0, len(ids))
	for _, id := range ids {
		si, err := p.GetSlotInfo(id)
		if err != nil {
			return nil, ckrError(fmt.Sprintf("slot %d: get slot info", id), err)
		}
		s := SlotInfo{
			ID:           id,
			Description:  trimPadding(si.SlotDescription),
			Manufacturer: trimPadding(si.ManufacturerID),
			TokenPresent: si.Flags&pkcs11.CKF_TOKEN_PRESENT != 0,
		}
		if s.TokenPresent {
			ti, err := p.GetTokenInfo(id)
			if err != nil {
				return nil, ckrError(fmt.Sprintf("slot %d: get token info", id), err)
			}
			s.Label, s.Serial = trimPadding(ti.Label), trimPadding(ti.SerialNumber)
			s.TokenManufacturer, s.Model = trimPadding(ti.ManufacturerID), trimPadding(ti.Model)
			s.Flags, s.FlagNames = ti.Flags, tokenFlagNames(ti.Flags)
			s.MaxSessions, s.Sessions = sessionLimit(ti.MaxSessionCount), sessionCount(ti.SessionCount)
			s.MaxRWSessions, s.RWSessions = sessionLimit(ti.MaxRwSessionCount), sessionCount(ti.RwSessionCount)
			caps, err := discover(p, id)
			if err != nil {
				return nil, err
			}
			s.Capabilities = caps.list()
		}
		out = append(out, s)
	}
	return out, nil
}

// maxSessionLimit is the largest session limit or count taken as a
// number. A token may report a limit of any CK_ULONG (openCryptoki
// reports ULONG_MAX-1, which int(…) turns into -2); no process opens
// more sessions than this.
const maxSessionLimit = math.MaxInt32

// sessionLimit converts a CK_ULONG session limit (ulMaxSessionCount,
// ulMaxRwSessionCount) as SlotInfo has it, the one place that does:
// CK_UNAVAILABLE_INFORMATION becomes -1; CK_EFFECTIVELY_INFINITE, and
// any limit above maxSessionLimit, 0 (no limit). It never wraps.
func sessionLimit(n uint) int {
	switch {
	case n == pkcs11.CK_UNAVAILABLE_INFORMATION:
		return -1
	case n > maxSessionLimit:
		return 0
	}
	return int(n)
}

// sessionCount converts a CK_ULONG count of open sessions
// (ulSessionCount, ulRwSessionCount): -1 when the token does not say
// (CK_UNAVAILABLE_INFORMATION) or says more than any process opens.
func sessionCount(n uint) int {
	if n > maxSessionLimit {
		return -1
	}
	return int(n)
}

// tokenFlags names the CK_TOKEN_INFO flags.
var tokenFlags = []struct {
	flag uint
	name string
}{
	{pkcs11.CKF_RNG, "rng"},
	{pkcs11.CKF_WRITE_PROTECTED, "write-protected"},
	{pkcs11.CKF_LOGIN_REQUIRED, "login-required"},
	{pkcs11.CKF_USER_PIN_INITIALIZED, "user-pin-initialized"},
	{pkcs11.CKF_RESTORE_KEY_NOT_NEEDED, "restore-key-not-needed"},
	{pkcs11.CKF_CLOCK_ON_TOKEN, "clock-on-token"},
	{pkcs11.CKF_PROTECTED_AUTHENTICATION_PATH, "protected-authentication-path"},
	{pkcs11.CKF_DUAL_CRYPTO_OPERATIONS, "dual-crypto-operations"},
	{pkcs11.CKF_TOKEN_INITIALIZED, "token-initialized"},
	{pkcs11.CKF_SECONDARY_AUTHENTICATION, "secondary-authentication"},
	{pkcs11.CKF_USER_PIN_COUNT_LOW, "user-pin-count-low"},
	{pkcs11.CKF_USER_PIN_FINAL_TRY, "user-pin-final-try"},
	{pkcs11.CKF_USER_PIN_LOCKED, "user-pin-locked"},
	{pkcs11.CKF_USER_PIN_TO_BE_CHANGED, "user-pin-to-be-changed"},
	{pkcs11.CKF_SO_PIN_COUNT_LOW, "so-pin-count-low"},
	{pkcs11.CKF_SO_PIN_FINAL_TRY, "so-pin-final-try"},
	{pkcs11.CKF_SO_PIN_LOCKED, "so-pin-locked"},
	{pkcs11.CKF_SO_PIN_TO_BE_CHANGED, "so-pin-to-be-changed"},
	{pkcs11.CKF_ERROR_STATE, "error-state"},
}

func tokenFlagNames(flags uint) []string {
	var names []string
	for _, f := range tokenFlags {
		if flags&f.flag != 0 {
			names = append(names, f.name)
		}
	}
	return names
}
