//go:build cgo

package hsm

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"

	"github.com/miekg/pkcs11"

	"github.com/wasihsm/wasihsm/provider"
)

// managedEntry is a validated ManagedKey.
type managedEntry struct {
	cfg ManagedKey
	alg provider.Algorithm
	ops opSet
}

// parseManagedKeys validates the managed keys of a Config. Its errors are
// ManagedKeyErrors.
func parseManagedKeys(keys []ManagedKey) (map[string]*managedEntry, error) {
	out := make(map[string]*managedEntry, len(keys))
	for i, mk := range keys {
		bad := func(field, format string, args ...any) error {
			return &ManagedKeyError{Index: i, Name: mk.Name, Field: field, Problem: fmt.Sprintf(format, args...)}
		}
		if mk.Name == "" {
			return nil, bad("Name", "empty; guests open the key by this name")
		}
		if out[mk.Name] != nil {
			return nil, bad("Name", "a second key of that name")
		}
		if mk.Label == "" && len(mk.ID) == 0 {
			return nil, bad("Label, ID", "give one or both, to find the key on the token")
		}
		alg := mk.Algorithm
		switch {
		case alg.Kind == provider.KindKDF:
			return nil, bad("Algorithm", "HKDF keys are made by HKDF-Extract and cannot be managed")
		case !registered(alg) || !provider.Manageable(alg):
			return nil, bad("Algorithm", "%q is not a key algorithm; want one of A128GCM, HS256, ES256, EdDSA, RS256, PS256, ECDH-P256, …", alg.Name)
		case alg.Curve == "X25519":
			return nil, bad("Algorithm", "X25519 keys on a token are not supported")
		}
		if len(mk.Guests) == 0 {
			return nil, bad("Guests", "no rule; name the guests (by module name or sha256) that may open the key")
		}
		for j, g := range mk.Guests {
			switch {
			case (g.Module == "") == (g.SHA256 == ""):
				return nil, bad(fmt.Sprintf("Guests[%d]", j), "give exactly one of Module and SHA256")
			case g.SHA256 != "" && !provider.IsSHA256Hex(g.SHA256):
				return nil, bad(fmt.Sprintf("Guests[%d].SHA256", j), "want 64 hex digits")
			}
		}
		applicable := provider.KeyOperations(alg)
		ops := opsOf(applicable...)
		if len(mk.Operations) > 0 {
			ops = 0
			for _, op := range mk.Operations {
				if !slices.Contains(applicable, op) {
					return nil, bad("Operations", "%q does not apply to %s keys; want %s", op, alg.Name, opNames(applicable))
				}
				ops |= opsOf(op)
			}
		}
		out[mk.Name] = &managedEntry{cfg: mk, alg: alg, ops: ops}
	}
	return out, nil
}

func opNames(ops []provider.Operation) string {
	names := make([]string, len(ops))
	for i, op := range ops {
		names[i] = op.String()
	}
	return strings.Join(names, ", ")
}

// allows reports whether guest may open the key.
func (e *managedEntry) allows(guest provider.Guest) bool {
	return slices.ContainsFunc(e.cfg.Guests, func(r GuestRule) bool { return r.Matches(guest) })
}

// OpenManagedKey implements provider.ManagedKeys. It answers
// provider.ErrNotFound when no managed key has that name or its objects are
// not on the token, provider.ErrAccessDenied when guest may not open it,
// and provider.ErrInvalidArgument when the object found does not fit the
// configured algorithm (class, key type, curve, size). A key the token
// holds but cannot serve (an *UnusableKeyError, or an operation of the
// key that probing found the token cannot run) answers
// provider.ErrNotSupported. The key's Destroy
// only releases it; an operation that the configuration does not allow
// answers provider.ErrAccessDenied when it is attempted.
func (b *Backend) OpenManagedKey(ctx context.Context, name string, guest provider.Guest) (provider.Key, error) {
	e := b.managed[name]
	if e == nil {
		return nil, fmt.Errorf("hsm: managed key %q: no such key: %w", name, provider.ErrNotFound)
	}
	if !e.allows(guest) {
		return nil, fmt.Errorf("hsm: managed key %q: guest %q may not open it: %w", name, guest.Name, provider.ErrAccessDenied)
	}
	alg := e.alg
	for _, op := range provider.KeyOperations(alg) {
		if e.ops.has(op) && b.Supports(alg, op) == provider.Unsupported {
			return nil, fmt.Errorf("hsm: managed key %q: the token cannot %s %s keys: %w", name, op, alg.Name, provider.ErrNotSupported)
		}
	}
	var k provider.Key
	err := b.withSession(ctx, fmt.Sprintf("managed key %q: find", name), func(s pkcs11.SessionHandle) error {
		var err error
		k, err = b.findManaged(s, e)
		return err
	})
	return k, err
}

// findManaged finds and checks the objects of a managed key.
func (b *Backend) findManaged(s pkcs11.SessionHandle, e *managedEntry) (backendKey, error) {
	alg, name := e.alg, e.cfg.Name
	bad := func(sentinel error, format string, args ...any) error {
		return fmt.Errorf("hsm: managed key %q: %s: %w", name, fmt.Sprintf(format, args...), sentinel)
	}
	found, err := b.findObjects(s, selector(keyClass(alg), e.cfg.Label, e.cfg.ID), 2)
	switch {
	case err != nil:
		return nil, err
	case len(found) == 0:
		return nil, bad(provider.ErrNotFound, "not on the token")
	case len(found) > 1:
		return nil, bad(provider.ErrInvalidArgument, "several objects match its label and id")
	}
	obj := found[0]
	a, err := b.p.GetAttributeValue(s, obj, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_ID, nil),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, nil),
	})
	if err != nil {
		return nil, err
	}
	keyType, _ := ulongAttr(a[0])
	id, label := a[1].Value, string(a[2].Value)
	if err := b.checkManagedType(s, alg, obj, keyType); err != nil {
		if rv := (pkcs11.Error(0)); errors.As(err, &rv) {
			return nil, err
		}
		return nil, bad(provider.ErrInvalidArgument, "%v", err)
	}

	var pub pkcs11.ObjectHandle
	if !alg.Kind.Symmetric() {
		if pub, err = b.publicHalf(s, label, id); err != nil {
			return nil, err
		}
	}
	epoch := b.modEpoch.Load()
	k, err := newKey(alg)
	if err != nil {
		return nil, err
	}
	if !alg.Kind.Symmetric() {
		// Signature and key-agreement keys: the public key, when there is
		// one (RSA private keys carry it), and the signature length.
		spki, size, err := b.readPublic(s, alg, obj, pub)
		switch {
		case err == nil:
		case pub == 0 && !alg.IsRSA() && !e.ops.has(provider.OpExportPublic):
			spki, size = nil, alg.OutputSize
		case pub == 0 && !alg.IsRSA():
			return nil, bad(provider.ErrNotFound, "its public key object is not on the token (needed for export-public)")
		default:
			return nil, err
		}
		setPublic(k, spki, size)
	}
	base := k.base()
	base.init(b, alg, objects{priv: obj, pub: pub})
	base.managed, base.allowed, base.epoch = name, e.ops, epoch
	return k, nil
}

// checkManagedType checks that a token key fits alg: its key type, and
// its curve or size.
func (t *token) checkManagedType(s pkcs11.SessionHandle, alg provider.Algorithm, obj pkcs11.ObjectHandle, keyType uint) error {
	read := func(typ uint) ([]byte, error) { return t.attr(s, obj, typ) }
	switch alg.Kind {
	case provider.KindAEAD:
		if keyType != pkcs11.CKK_AES {
			return fmt.Errorf("key type 0x%x, want CKK_AES", keyType)
		}
		v, err := read(pkcs11.CKA_VALUE_LEN)
		if err != nil {
			return err
		}
		if n, ok := ulongAttr(&pkcs11.Attribute{Value: v}); !ok || int(n) != alg.KeySize {
			return fmt.Errorf("an AES key of %d bytes, want %d", n, alg.KeySize)
		}
	case provider.KindMAC:
		want := map[string]uint{"SHA-256": pkcs11.CKK_SHA256_HMAC, "SHA-384": pkcs11.CKK_SHA384_HMAC, "SHA-512": pkcs11.CKK_SHA512_HMAC}[alg.Hash]
		if keyType != pkcs11.CKK_GENERIC_SECRET && keyType != want {
			return fmt.Errorf("key type 0x%x, want CKK_GENERIC_SECRET", keyType)
		}
	case provider.KindSignature, provider.KindKeyAgreement:
		switch {
		case alg.IsRSA():
			if keyType != pkcs11.CKK_RSA {
				return fmt.Errorf("key type 0x%x, want CKK_RSA", keyType)
			}
			n, err := read(pkcs11.CKA_MODULUS)
			if err != nil {
				return err
			}
			if bits := new(big.Int).SetBytes(n).BitLen(); bits < minRSABits || bits > maxRSABits {
				return fmt.Errorf("an RSA key of %d bits, want %d to %d", bits, minRSABits, maxRSABits)
			}
			return nil
		case alg.Curve == "Ed25519":
			if keyType != ckkECEdwards {
				return fmt.Errorf("key type 0x%x, want CKK_EC_EDWARDS", keyType)
			}
		default:
			if keyType != pkcs11.CKK_EC {
				return fmt.Errorf("key type 0x%x, want CKK_EC", keyType)
			}
		}
		params, err := read(pkcs11.CKA_EC_PARAMS)
		if err != nil {
			return err
		}
		if !sameCurve(params, alg.Curve) {
			return fmt.Errorf("a key on another curve than %s", alg.Curve)
		}
	}
	return nil
}
