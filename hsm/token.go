//go:build cgo

package hsm

import (
	"context"
	"fmt"
	"strings"

	"github.com/miekg/pkcs11"

	"github.com/wasihsm/wasihsm/provider"
)

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
// loads the module (or shares the process's instance of it) and releases
// it before returning.
func Slots(ctx context.Context, path string) ([]SlotInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, timeoutError(err)
	}
	mod, err := openModule(path)
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
			s.MaxSessions, s.Sessions = sessionCount(ti.MaxSessionCount), sessionCount(ti.SessionCount)
			s.MaxRWSessions, s.RWSessions = sessionCount(ti.MaxRwSessionCount), sessionCount(ti.RwSessionCount)
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

// sessionCount converts a CK_ULONG session count: CK_UNAVAILABLE_INFORMATION
// becomes -1; CK_EFFECTIVELY_INFINITE stays 0.
func sessionCount(n uint) int {
	if n == pkcs11.CK_UNAVAILABLE_INFORMATION {
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
