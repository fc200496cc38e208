//go:build cgo

package hsm

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"

	"github.com/miekg/pkcs11"

	"github.com/wasihsm/wasihsm/provider"
)

// Admin is one session on a token for provisioning managed keys: it
// creates, lists and deletes token objects (CKA_TOKEN true), which outlive
// every process, unlike the session objects of a [Backend]. It is what
// `wasihsm keys` and `wasihsm doctor` use. Its methods are safe for
// concurrent use (they take turns on the one session). Open it with
// [OpenAdmin], log in with [Admin.Login], and release it with
// [Admin.Close].
//
// Keys it creates are what docs/semantics.md#where-keys-live asks of keys on a token, as token
// objects: CKA_TOKEN, CKA_SENSITIVE and CKA_PRIVATE true, CKA_EXTRACTABLE
// false, with the label and id given; the public half of a pair is a token
// object with the same label and id. Both halves can do what their
// algorithm needs and nothing else, and are not modifiable or copyable,
// as the backend's keys (see capabilities.policy). Create reads the
// attributes back and removes the key again when the token did not keep
// them.
type Admin struct {
	// token is set by OpenAdmin; its login field says whether Login
	// succeeded, and is guarded by mu.
	token
	cfg  Config
	opts AdminOptions

	mu     sync.Mutex // guards s, token.login and closed, and serialises the session
	s      pkcs11.SessionHandle
	closed bool
}

// OpenAdmin loads cfg.Module (as [Open] does, checked against the
// allowed modules), finds the token that cfg.Token selects and opens a
// session on it: read-write unless opts.ReadOnly. It does not log in: call
// [Admin.Login]. Errors are those of [Open] for the same steps: a module
// outside the allow-list wraps provider.ErrAccessDenied, one that does not
// load provider.ErrDevice, a token that is not there provider.ErrNotFound.
// cfg.ManagedKeys is not used.
func OpenAdmin(ctx context.Context, cfg Config, opts AdminOptions) (*Admin, error) {
	cfg = cloneConfig(cfg)
	cfg.ManagedKeys = nil
	if err := checkConfig(cfg); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, timeoutError(err)
	}
	mod, err := openModule(cfg.Module, cfg.InitArgs)
	if err != nil {
		return nil, err
	}
	a := &Admin{cfg: cfg, opts: opts}
	if err := a.open(mod); err != nil {
		_ = mod.release()
		return nil, err
	}
	return a, nil
}

func (a *Admin) open(mod *module) error {
	if !mod.enter() {
		return errReinit
	}
	defer mod.leave()
	t, err := openToken(mod, a.cfg.Token)
	if err != nil {
		return err
	}
	a.token = t
	a.persistent = true
	flags := uint(pkcs11.CKF_SERIAL_SESSION)
	if !a.opts.ReadOnly {
		flags |= pkcs11.CKF_RW_SESSION
	}
	if a.s, err = a.p.OpenSession(a.slot, flags); err != nil {
		return ckrError("admin: open a session", err)
	}
	return nil
}

// Slot returns the slot of the token.
func (a *Admin) Slot() uint { return a.slot }

// Label returns the token's label.
func (a *Admin) Label() string { return a.info.Label }

// LoginRequired reports whether the token wants a login
// (CKF_LOGIN_REQUIRED) to use private objects.
func (a *Admin) LoginRequired() bool { return a.loginRequired() }

// Login logs the user in with cfg.PIN, zeroing the PIN right after
// C_Login. Without a PIN source it does nothing on a token that needs no
// login, and fails (provider.ErrAccessDenied) on one that does. A wrong
// PIN answers an error wrapping provider.ErrAccessDenied that names
// CKR_PIN_INCORRECT. As for [Backend], the login belongs to the whole
// process, and Admin never logs out.
func (a *Admin) Login(ctx context.Context) error {
	if err := a.begin(ctx); err != nil {
		return err
	}
	defer a.end()
	if a.cfg.PIN == nil && !a.loginRequired() {
		return nil
	}
	if err := a.logIn(a.s, a.cfg.PIN); err != nil {
		return err
	}
	a.login = true
	return nil
}

// Close closes the session and releases the module. It never logs out.
// Close is idempotent.
func (a *Admin) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil
	}
	a.closed = true
	if a.mod.enter() {
		_ = a.p.CloseSession(a.s)
		a.mod.leave()
	}
	return a.mod.release()
}

var errAdminClosed = fmt.Errorf("hsm: admin: closed: %w", provider.ErrInvalidArgument)

// begin takes the session for one call, and a place in the module's gate
// (see module.enter): a backend of the same process that recovers from a
// token failure must not finalize the module under the call. end releases
// both.
func (a *Admin) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return timeoutError(err)
	}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return errAdminClosed
	}
	if !a.mod.enter() {
		a.mu.Unlock()
		return errReinit
	}
	return nil
}

func (a *Admin) end() {
	a.mod.leave()
	a.mu.Unlock()
}

// attr reads one attribute; ok is false when the object has none (or the
// token will not say, as for a sensitive value).
func (a *Admin) attr(obj pkcs11.ObjectHandle, t uint) ([]byte, bool) {
	v, err := a.token.attr(a.s, obj, t)
	return v, err == nil
}

func (a *Admin) boolAttr(obj pkcs11.ObjectHandle, t uint) bool {
	v, ok := a.attr(obj, t)
	return ok && boolAttr(&pkcs11.Attribute{Value: v})
}

func (a *Admin) ulongAttr(obj pkcs11.ObjectHandle, t uint) (uint, bool) {
	v, ok := a.attr(obj, t)
	if !ok {
		return 0, false
	}
	return ulongAttr(&pkcs11.Attribute{Value: v})
}

// classNames are the classes of key objects as TokenKey.Class names them.
var classNames = map[uint]string{pkcs11.CKO_PRIVATE_KEY: "private", pkcs11.CKO_SECRET_KEY: "secret", pkcs11.CKO_PUBLIC_KEY: "public"}

// describe reads what List and Find report of a private, secret or public
// key object. pub is the public half of a pair, or 0.
func (a *Admin) describe(obj, pub pkcs11.ObjectHandle) TokenKey {
	class, _ := a.ulongAttr(obj, pkcs11.CKA_CLASS)
	keyType, _ := a.ulongAttr(obj, pkcs11.CKA_KEY_TYPE)
	label, _ := a.attr(obj, pkcs11.CKA_LABEL)
	id, _ := a.attr(obj, pkcs11.CKA_ID)
	k := TokenKey{
		Label: string(label), ID: bytes.Clone(id),
		Token: a.boolAttr(obj, pkcs11.CKA_TOKEN), Private: a.boolAttr(obj, pkcs11.CKA_PRIVATE),
		HasPublic: pub != 0,
		obj:       uint(obj), pub: uint(pub), keyType: keyType,
	}
	k.Class = cmp.Or(classNames[class], "public")
	k.Grants = a.caps.grants(a.p, a.s, obj, class)
	if pub != 0 {
		k.PublicGrants = a.caps.grants(a.p, a.s, pub, pkcs11.CKO_PUBLIC_KEY)
	}
	if k.Class != "public" {
		k.Sensitive = a.boolAttr(obj, pkcs11.CKA_SENSITIVE)
		k.Extractable = a.boolAttr(obj, pkcs11.CKA_EXTRACTABLE)
		k.AlwaysSensitive = a.boolAttr(obj, pkcs11.CKA_ALWAYS_SENSITIVE)
		k.NeverExtractable = a.boolAttr(obj, pkcs11.CKA_NEVER_EXTRACTABLE)
	}
	sign, derive := a.boolAttr(obj, pkcs11.CKA_SIGN), a.boolAttr(obj, pkcs11.CKA_DERIVE)
	encrypt := a.boolAttr(obj, pkcs11.CKA_ENCRYPT) || a.boolAttr(obj, pkcs11.CKA_DECRYPT)
	var pubAlg string // an algorithm whose public key readPublic can read
	switch keyType {
	case pkcs11.CKK_EC, ckkECEdwards:
		params, _ := a.attr(obj, pkcs11.CKA_EC_PARAMS)
		k.Type = "EC (unknown curve)"
		for _, c := range ecCurves {
			if !sameCurve(params, c.name) {
				continue
			}
			k.Type = "EC " + c.name
			if c.name == "Ed25519" {
				k.Type = "Ed25519"
			}
			pubAlg = c.sign
			if sign && c.sign != "" {
				k.Algorithms = append(k.Algorithms, c.sign)
			}
			if derive && c.derive != "" {
				k.Algorithms = append(k.Algorithms, c.derive)
			}
		}
	case pkcs11.CKK_RSA:
		n, _ := a.attr(obj, pkcs11.CKA_MODULUS)
		bits := new(big.Int).SetBytes(n).BitLen()
		k.Type = fmt.Sprintf("RSA %d", bits)
		pubAlg = "RS256"
		if sign && bits >= minRSABits && bits <= maxRSABits {
			for _, alg := range provider.Algorithms() {
				if alg.IsRSA() {
					k.Algorithms = append(k.Algorithms, alg.Name)
				}
			}
		}
	case pkcs11.CKK_AES:
		n, _ := a.ulongAttr(obj, pkcs11.CKA_VALUE_LEN)
		k.Type = fmt.Sprintf("AES %d", n*8)
		if alg, ok := provider.Lookup(fmt.Sprintf("A%dGCM", n*8)); ok && encrypt {
			k.Algorithms = append(k.Algorithms, alg.Name)
		}
	case pkcs11.CKK_GENERIC_SECRET, pkcs11.CKK_SHA256_HMAC, pkcs11.CKK_SHA384_HMAC, pkcs11.CKK_SHA512_HMAC:
		n, _ := a.ulongAttr(obj, pkcs11.CKA_VALUE_LEN)
		k.Type = fmt.Sprintf("generic secret %d bytes", n)
		only := map[uint]string{pkcs11.CKK_SHA256_HMAC: "HS256", pkcs11.CKK_SHA384_HMAC: "HS384", pkcs11.CKK_SHA512_HMAC: "HS512"}[keyType]
		if only != "" {
			k.Type = fmt.Sprintf("%s secret %d bytes", only, n)
		}
		for _, name := range []string{"HS256", "HS384", "HS512"} {
			alg, _ := provider.Lookup(name)
			if sign && (only == "" || only == name) && int(n) >= alg.OutputSize {
				k.Algorithms = append(k.Algorithms, name)
			}
		}
	default:
		k.Type = fmt.Sprintf("key type 0x%x", keyType)
	}
	k.Algorithms = slices.DeleteFunc(k.Algorithms, func(name string) bool { return !a.caps.runs(provider.MustLookup(name)) })
	if pubAlg != "" {
		alg, _ := provider.Lookup(pubAlg)
		priv := obj
		if k.Class == "public" {
			priv, pub = 0, obj
		}
		if spki, _, err := a.readPublic(a.s, alg, priv, pub); err == nil {
			k.PublicKey = spki
		}
	}
	return k
}

// List returns every key on the token that the session can see (private
// objects only after a login): private and secret keys, and public keys
// whose private half is not there, sorted by label and id.
func (a *Admin) List(ctx context.Context) ([]TokenKey, error) {
	if err := a.begin(ctx); err != nil {
		return nil, err
	}
	defer a.end()
	paired := map[pkcs11.ObjectHandle]bool{}
	keys, err := a.keys("", nil, paired)
	if err != nil {
		return nil, ckrError("admin: list keys", err)
	}
	pubs, err := a.findObjects(a.s, selector(pkcs11.CKO_PUBLIC_KEY, "", nil), 0)
	if err != nil {
		return nil, ckrError("admin: list keys", err)
	}
	for _, obj := range pubs {
		if !paired[obj] {
			keys = append(keys, a.describe(obj, 0))
		}
	}
	sortKeys(keys)
	return keys, nil
}

func sortKeys(keys []TokenKey) {
	slices.SortFunc(keys, func(x, y TokenKey) int {
		return cmp.Or(cmp.Compare(x.Label, y.Label), bytes.Compare(x.ID, y.ID), cmp.Compare(x.Class, y.Class))
	})
}

// Find returns the private and secret keys whose label and id are those
// given (an empty label or nil id matches any), as a managed key of that
// label and id finds them. At least one of label and id is required.
func (a *Admin) Find(ctx context.Context, label string, id []byte) ([]TokenKey, error) {
	if label == "" && len(id) == 0 {
		return nil, fmt.Errorf("hsm: admin: find: give a label or an id: %w", provider.ErrInvalidArgument)
	}
	if err := a.begin(ctx); err != nil {
		return nil, err
	}
	defer a.end()
	keys, err := a.keys(label, id, map[pkcs11.ObjectHandle]bool{})
	if err != nil {
		return nil, ckrError("admin: find keys", err)
	}
	sortKeys(keys)
	return keys, nil
}

// keys describes the private and secret keys with the label and id given
// (an empty label or nil id matches any), each with its public half, which
// it adds to paired.
func (a *Admin) keys(label string, id []byte, paired map[pkcs11.ObjectHandle]bool) ([]TokenKey, error) {
	var keys []TokenKey
	for _, class := range []uint{pkcs11.CKO_PRIVATE_KEY, pkcs11.CKO_SECRET_KEY} {
		objs, err := a.findObjects(a.s, selector(class, label, id), 0)
		if err != nil {
			return nil, err
		}
		for _, obj := range objs {
			var pub pkcs11.ObjectHandle
			if class == pkcs11.CKO_PRIVATE_KEY {
				l, _ := a.attr(obj, pkcs11.CKA_LABEL)
				i, _ := a.attr(obj, pkcs11.CKA_ID)
				if pub, err = a.publicHalf(a.s, string(l), i); err != nil {
					return nil, err
				}
				paired[pub] = true
			}
			keys = append(keys, a.describe(obj, pub))
		}
	}
	return keys, nil
}

// Fits reports whether k can serve as a managed key of algorithm alg, as
// [Backend.OpenManagedKey] checks it (class, key type, curve or size),
// and whether its usage flags allow the algorithm. The error wraps
// provider.ErrInvalidArgument and says what is wrong.
func (a *Admin) Fits(ctx context.Context, k TokenKey, algName string) error {
	alg, ok := provider.Lookup(algName)
	if !ok || !alg.Kind.Keyed() {
		return fmt.Errorf("hsm: admin: %q is not a key algorithm: %w", algName, provider.ErrInvalidArgument)
	}
	if wantClass := classNames[keyClass(alg)]; k.Class != wantClass {
		return fmt.Errorf("hsm: admin: %s: a %s key, want a %s key: %w", alg.Name, k.Class, wantClass, provider.ErrInvalidArgument)
	}
	if err := a.begin(ctx); err != nil {
		return err
	}
	defer a.end()
	if err := a.checkManagedType(a.s, alg, pkcs11.ObjectHandle(k.obj), k.keyType); err != nil {
		return fmt.Errorf("hsm: admin: %s: %v: %w", alg.Name, err, provider.ErrInvalidArgument)
	}
	if !a.caps.runs(alg) {
		return a.cannotRun(alg)
	}
	if !slices.Contains(k.Algorithms, alg.Name) {
		return fmt.Errorf("hsm: admin: %s: the key's usage flags do not allow it (%s): %w", alg.Name, usageFor(alg), provider.ErrInvalidArgument)
	}
	return nil
}

// Excess names what k allows beyond what keys of the algorithms need
// (kindUsage): its usage attributes that none of them uses, and
// CKA_MODIFIABLE and CKA_COPYABLE when true, which no key needs; those of
// the public half end in "on the public key". Nil when k allows no more
// than it needs. Unknown algorithm names need nothing.
func (a *Admin) Excess(k TokenKey, algs ...string) []string {
	var key, pub []uint
	for _, name := range algs {
		if alg, ok := provider.Lookup(name); ok {
			u := usageOf(alg)
			key, pub = append(key, u.key...), append(pub, u.pub...)
		}
	}
	if k.Class == "public" {
		key = pub
	}
	out := excess(k.Grants, key)
	for _, g := range excess(k.PublicGrants, pub) {
		out = append(out, g+" on the public key")
	}
	return out
}

// Quirks lists the names of the quirks found on the token while making
// managed keys (QuirkCopyableTokenObjects, QuirkPairsDecrypt).
func (a *Admin) Quirks() []string {
	var out []string
	if a.caps.dev.copyableTokenObjects.Load() {
		out = append(out, QuirkCopyableTokenObjects)
	}
	if a.caps.dev.pairsDecrypt.Load() {
		out = append(out, QuirkPairsDecrypt)
	}
	return out
}

// excessBeyondQuirks is Excess(k, alg.Name) without what
// QuirkPairsDecrypt makes a pair allow, on a token found to have it.
func (a *Admin) excessBeyondQuirks(k TokenKey, alg provider.Algorithm) []string {
	more := a.Excess(k, alg.Name)
	if !a.caps.dev.pairsDecrypt.Load() || alg.Kind.Symmetric() {
		return more
	}
	return slices.DeleteFunc(more, func(g string) bool {
		return g == attrNames[pkcs11.CKA_DECRYPT] || g == attrNames[pkcs11.CKA_ENCRYPT]+" on the public key"
	})
}

// usageFor names the usage attribute that a key of alg needs.
func usageFor(alg provider.Algorithm) string {
	switch alg.Kind {
	case provider.KindAEAD:
		return "want CKA_ENCRYPT and CKA_DECRYPT"
	case provider.KindKeyAgreement:
		return "want CKA_DERIVE"
	}
	return "want CKA_SIGN"
}

// Create generates spec's key inside the token, or imports
// spec.Material, as token objects (see [Admin]), and returns it as the
// token now reports it. It fails, changing nothing, when the label or id
// is already on the token or empty, the algorithm cannot be a managed key
// of the token, or the material does not fit the algorithm
// (provider.ErrInvalidArgument), or when the token cannot generate or
// import such keys (provider.ErrNotSupported).
func (a *Admin) Create(ctx context.Context, spec KeySpec) (TokenKey, error) {
	alg, err := adminAlgorithm(spec.Algorithm)
	if err != nil {
		return TokenKey{}, err
	}
	if spec.Label == "" || len(spec.ID) == 0 {
		return TokenKey{}, fmt.Errorf("hsm: admin: create: a managed key needs a label and an id: %w", provider.ErrInvalidArgument)
	}
	op, what := provider.OpGenerate, "generate"
	if spec.Material != nil {
		op, what = provider.OpImport, "import"
	}
	if err := a.begin(ctx); err != nil {
		return TokenKey{}, err
	}
	defer a.end()
	if a.opts.ReadOnly {
		return TokenKey{}, fmt.Errorf("hsm: admin: create: the session is read-only: %w", provider.ErrInvalidArgument)
	}
	if a.caps.supports(alg, op) == provider.Unsupported {
		return TokenKey{}, fmt.Errorf("hsm: admin: create: the token cannot %s %s keys: %w", what, alg.Name, provider.ErrNotSupported)
	}
	if !a.caps.runs(alg) {
		return TokenKey{}, a.cannotRun(alg)
	}
	for _, t := range [][]*pkcs11.Attribute{selector(anyClass, spec.Label, nil), selector(anyClass, "", spec.ID)} {
		found, err := a.findObjects(a.s, t, 0)
		if err != nil {
			return TokenKey{}, ckrError("admin: create: look for the label and id", err)
		}
		if len(found) > 0 {
			return TokenKey{}, fmt.Errorf("hsm: admin: create: an object with label %q or id %x is already on the token; delete it or choose another: %w",
				spec.Label, spec.ID, provider.ErrInvalidArgument)
		}
	}
	o, err := a.createObjects(alg, spec)
	if err != nil {
		return TokenKey{}, err
	}
	priv, pub := o.priv, o.pub
	if err := a.requirePublic(alg, priv, pub); err != nil {
		return TokenKey{}, err
	}
	k := a.describe(priv, pub)
	bad := k.Compliant(a.login)
	if spec.Material == nil && (!k.AlwaysSensitive || !k.NeverExtractable) {
		bad = append(bad, "CKA_ALWAYS_SENSITIVE or CKA_NEVER_EXTRACTABLE is false for a key generated on the token")
	}
	if !slices.Contains(k.Algorithms, alg.Name) {
		bad = append(bad, "the token did not keep the key's usage flags")
	}
	if more := a.excessBeyondQuirks(k, alg); len(more) > 0 {
		bad = append(bad, "the key allows more than "+alg.Name+" needs: "+strings.Join(more, ", "))
	}
	if len(bad) > 0 {
		_ = destroyObjects(a.p, a.s, priv, pub)
		return TokenKey{}, fmt.Errorf("hsm: admin: create: the token did not keep the attributes asked for (%s); the key was removed: %w",
			bad[0], provider.ErrDevice)
	}
	return k, nil
}

// requirePublic checks that the new key pair priv, pub of alg (a
// signature or key-agreement algorithm; others pass) has a public key
// that can be read: describe leaves out one it cannot read, and a new key
// must have one (tpm2-pkcs11 1.9.0 stores a malformed CKA_EC_POINT for
// P-521). When it has none, the pair is destroyed. The caller holds mu.
func (a *Admin) requirePublic(alg provider.Algorithm, priv, pub pkcs11.ObjectHandle) error {
	if alg.Kind != provider.KindSignature && alg.Kind != provider.KindKeyAgreement {
		return nil
	}
	if _, _, err := a.readPublic(a.s, alg, priv, pub); err != nil {
		_ = destroyObjects(a.p, a.s, priv, pub)
		return fmt.Errorf("hsm: admin: create: the token made a %s key whose public key cannot be read, and the key was removed: %w",
			alg.Name, ckrError("admin: create: read the public key", err))
	}
	return nil
}

// cannotRun is the error for a managed key of alg on a token that cannot
// run it.
func (a *Admin) cannotRun(alg provider.Algorithm) error {
	var ops []string
	for _, op := range provider.KeyOperations(alg) {
		if a.caps.supports(alg, op) == provider.Unsupported {
			ops = append(ops, op.String())
		}
	}
	return fmt.Errorf("hsm: admin: %s: the token cannot %s with such a key (wasihsm slots lists what it can do): %w",
		alg.Name, strings.Join(ops, " or "), provider.ErrNotSupported)
}

// adminAlgorithm checks that name is an algorithm a managed key on a token
// may have.
func adminAlgorithm(name string) (provider.Algorithm, error) {
	alg, ok := provider.Lookup(name)
	switch {
	case !ok || !alg.Kind.Keyed():
		return alg, fmt.Errorf("hsm: admin: %q is not a key algorithm; want one of A128GCM, A192GCM, A256GCM, HS256, HS384, HS512, "+
			"ES256, ES384, ES512, EdDSA, RS256…RS512, PS256…PS512, ECDH-P256, ECDH-P384: %w", name, provider.ErrInvalidArgument)
	case alg.Kind == provider.KindKDF:
		return alg, fmt.Errorf("hsm: admin: HKDF keys are made by guests (HKDF-Extract) and cannot be managed: %w", provider.ErrInvalidArgument)
	case alg.Curve == "X25519":
		return alg, fmt.Errorf("hsm: admin: X25519 keys on a token are not supported: %w", provider.ErrNotSupported)
	}
	return alg, nil
}

// createObjects makes the objects of a key as token objects with spec's
// label and id, from the templates a Backend's keys are made from: the
// private or secret key and, for a pair, the public key. When the token
// answers CKR_GENERAL_ERROR, the ways of managedKeyQuirks are tried in
// turn, and the first the token takes is remembered for the Admin. The
// caller holds mu.
func (a *Admin) createObjects(alg provider.Algorithm, spec KeySpec) (objects, error) {
	o, err := a.makeObjects(alg, spec)
	if errors.Is(err, pkcs11.Error(pkcs11.CKR_GENERAL_ERROR)) {
		for _, try := range a.managedKeyQuirks(alg) {
			undo := try()
			if undo == nil {
				continue // known already
			}
			if o2, err2 := a.makeObjects(alg, spec); err2 == nil {
				return o2, nil
			}
			undo()
		}
	}
	if err != nil {
		return objects{}, ckrError(fmt.Sprintf("admin: create %s key %q", alg.Name, spec.Label), err)
	}
	return o, nil
}

// managedKeyQuirks are the quirks that make a token answer
// CKR_GENERAL_ERROR to a managed key's templates (QuirkCopyableTokenObjects,
// QuirkPairsDecrypt, and both), each as a function that turns it on and
// returns what turns it off again, or nil when it is on already.
func (a *Admin) managedKeyQuirks(alg provider.Algorithm) []func() (undo func()) {
	noCopy := func() func() {
		if a.caps.dev.noCopyable.Load() {
			return nil
		}
		a.caps.dev.noCopyable.Store(true)
		a.caps.dev.copyableTokenObjects.Store(true)
		return func() { a.caps.dev.noCopyable.Store(false); a.caps.dev.copyableTokenObjects.Store(false) }
	}
	if alg.Kind.Symmetric() {
		return []func() func(){noCopy}
	}
	decrypt := func() func() {
		if a.caps.dev.pairsDecrypt.Load() {
			return nil
		}
		a.caps.dev.pairsDecrypt.Store(true)
		return func() { a.caps.dev.pairsDecrypt.Store(false) }
	}
	both := func() func() {
		u1, u2 := noCopy(), decrypt()
		if u1 == nil || u2 == nil {
			if u1 != nil {
				u1()
			}
			if u2 != nil {
				u2()
			}
			return nil // tried alone already
		}
		return func() { u1(); u2() }
	}
	return []func() func(){noCopy, decrypt, both}
}

// makeObjects makes the objects of createObjects once, with the quirks
// found so far.
func (a *Admin) makeObjects(alg provider.Algorithm, spec KeySpec) (objects, error) {
	named := []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_LABEL, spec.Label), pkcs11.NewAttribute(pkcs11.CKA_ID, spec.ID)}
	if alg.Kind == provider.KindAEAD || alg.Kind == provider.KindMAC {
		mk, value, err := a.secretKey(alg, spec.Material, named...)
		if err != nil {
			return objects{}, err
		}
		defer clear(value)
		return mk(a.s)
	}
	var drop *pairDrop
	if a.caps.dev.pairsDecrypt.Load() {
		drop = pairsDecryptDrop
	}
	mk, wipe, err := a.pairKeyWithout(alg, spec.Material, drop, named...)
	if err != nil {
		return objects{}, err
	}
	defer wipe()
	return mk(a.s)
}

// Delete destroys every key object on the token (private, secret and
// public) with the label and id given (an empty label or nil id matches
// any; at least one is required) and returns how many it destroyed. It
// answers provider.ErrNotFound when there is none.
func (a *Admin) Delete(ctx context.Context, label string, id []byte) (int, error) {
	if label == "" && len(id) == 0 {
		return 0, fmt.Errorf("hsm: admin: delete: give a label or an id: %w", provider.ErrInvalidArgument)
	}
	if err := a.begin(ctx); err != nil {
		return 0, err
	}
	defer a.end()
	var objs []pkcs11.ObjectHandle
	for _, class := range []uint{pkcs11.CKO_PRIVATE_KEY, pkcs11.CKO_SECRET_KEY, pkcs11.CKO_PUBLIC_KEY} {
		found, err := a.findObjects(a.s, selector(class, label, id), 0)
		if err != nil {
			return 0, ckrError("admin: delete: find the objects", err)
		}
		objs = append(objs, found...)
	}
	if len(objs) == 0 {
		return 0, fmt.Errorf("hsm: admin: delete: no key with label %q and id %x on the token: %w", label, id, provider.ErrNotFound)
	}
	for i, obj := range objs {
		if err := a.p.DestroyObject(a.s, obj); err != nil {
			return i, ckrError("admin: delete", err)
		}
	}
	return len(objs), nil
}
