package bench

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"fmt"
	"testing"

	"github.com/miekg/pkcs11"
)

// PKCS#11 3.0 values that miekg/pkcs11 v1.1.2 lacks (as in hsm/constants.go).
const (
	ckkECEdwards           = 0x00000040
	ckmECEdwardsKeyPairGen = 0x00001055
	ckmEdDSA               = 0x00001057
)

// DER OIDs of the curves (CKA_EC_PARAMS).
var (
	oidP256    = []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}
	oidEd25519 = []byte{0x06, 0x03, 0x2b, 0x65, 0x70}
)

// rawToken is the baseline: github.com/miekg/pkcs11 used as well as it can
// be, with one logged-in session kept for the whole run and key handles
// kept, so each operation is exactly the PKCS#11 calls it needs.
type rawToken struct {
	p       *pkcs11.Ctx
	slot    uint
	session pkcs11.SessionHandle
}

// ckr reports whether err is the PKCS#11 return value code.
func ckr(err error, code uint) bool {
	var e pkcs11.Error
	return errors.As(err, &e) && uint(e) == code
}

// openRaw loads module (already initialised in this process is fine),
// finds the token labelled label and opens a session logged in with pin.
func openRaw(module, label, pin string) (*rawToken, error) {
	p := pkcs11.New(module)
	if p == nil {
		return nil, fmt.Errorf("raw: cannot load %s", module)
	}
	if err := p.Initialize(); err != nil && !ckr(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		return nil, fmt.Errorf("raw: initialize: %w", err)
	}
	slots, err := p.GetSlotList(true)
	if err != nil {
		return nil, fmt.Errorf("raw: slots: %w", err)
	}
	r := &rawToken{p: p}
	found := false
	for _, s := range slots {
		if info, err := p.GetTokenInfo(s); err == nil && info.Label == label {
			r.slot, found = s, true
			break
		}
	}
	if !found {
		return nil, fmt.Errorf("raw: no token %q", label)
	}
	if r.session, err = r.newSession(); err != nil {
		return nil, err
	}
	if err := p.Login(r.session, pkcs11.CKU_USER, pin); err != nil && !ckr(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN) {
		return nil, fmt.Errorf("raw: login: %w", err)
	}
	return r, nil
}

// newSession opens another session on the token (logged in, since login
// state belongs to the application).
func (r *rawToken) newSession() (pkcs11.SessionHandle, error) {
	s, err := r.p.OpenSession(r.slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return 0, fmt.Errorf("raw: open session: %w", err)
	}
	return s, nil
}

// privateAttrs are the attributes wasihsm gives every key it creates
// (docs/semantics.md#where-keys-live): a private, sensitive, non-extractable session object.
func privateAttrs(attrs ...*pkcs11.Attribute) []*pkcs11.Attribute {
	return append([]*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
	}, attrs...)
}

// rawPair is a key pair made by generatePair.
type rawPair struct {
	priv, pub pkcs11.ObjectHandle
	public    any // *ecdsa.PublicKey or ed25519.PublicKey
}

// generatePair generates an ES256 (P-256) or EdDSA (Ed25519) key pair in
// the kept session and reads its public point: what a key that can be
// used and shown takes.
func (r *rawToken) generatePair(alg string) (rawPair, error) {
	mech, keyType, params := uint(pkcs11.CKM_EC_KEY_PAIR_GEN), uint(pkcs11.CKK_EC), oidP256
	if alg == "EdDSA" {
		mech, keyType, params = ckmECEdwardsKeyPairGen, ckkECEdwards, oidEd25519
	}
	pubT := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, keyType),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
		pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params),
	}
	privT := privateAttrs(
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, keyType),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
	)
	pub, priv, err := r.p.GenerateKeyPair(r.session, []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, nil)}, pubT, privT)
	if err != nil {
		return rawPair{}, fmt.Errorf("raw: generate %s: %w", alg, err)
	}
	attrs, err := r.p.GetAttributeValue(r.session, pub, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_EC_POINT, nil)})
	if err != nil {
		return rawPair{}, fmt.Errorf("raw: read the public key: %w", err)
	}
	var point []byte
	if _, err := asn1.Unmarshal(attrs[0].Value, &point); err != nil {
		return rawPair{}, fmt.Errorf("raw: CKA_EC_POINT: %w", err)
	}
	k := rawPair{priv: priv, pub: pub}
	if alg == "EdDSA" {
		k.public = ed25519.PublicKey(point)
	} else if k.public, err = ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point); err != nil {
		return rawPair{}, fmt.Errorf("raw: CKA_EC_POINT: %w", err)
	}
	return k, nil
}

// destroy destroys objects in the kept session.
func (r *rawToken) destroy(objects ...pkcs11.ObjectHandle) error {
	for _, o := range objects {
		if err := r.p.DestroyObject(r.session, o); err != nil {
			return fmt.Errorf("raw: destroy: %w", err)
		}
	}
	return nil
}

// sign signs msg in session s as the product does: ES256 hashes on the
// host and signs the digest with CKM_ECDSA, EdDSA signs the message with
// CKM_EDDSA, HS256 is CKM_SHA256_HMAC.
func (r *rawToken) sign(s pkcs11.SessionHandle, alg string, key pkcs11.ObjectHandle, msg []byte) ([]byte, error) {
	var mech uint
	data := msg
	switch alg {
	case "ES256":
		digest := sha256.Sum256(msg)
		mech, data = pkcs11.CKM_ECDSA, digest[:]
	case "EdDSA":
		mech = ckmEdDSA
	case "HS256":
		mech = pkcs11.CKM_SHA256_HMAC
	}
	if err := r.p.SignInit(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, nil)}, key); err != nil {
		return nil, fmt.Errorf("raw: sign init: %w", err)
	}
	sig, err := r.p.Sign(s, data)
	if err != nil {
		return nil, fmt.Errorf("raw: sign: %w", err)
	}
	return sig, nil
}

// macKey imports the guest's HMAC key (keyBytes(64)) for tb, and destroys
// it when tb ends.
func (r *rawToken) macKey(tb testing.TB) pkcs11.ObjectHandle {
	tb.Helper()
	key, err := r.importSecret(pkcs11.CKK_GENERIC_SECRET, keyBytes(64))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = r.destroy(key) })
	return key
}

// importSecret creates an HMAC (generic secret) or AES key from value.
func (r *rawToken) importSecret(keyType uint, value []byte) (pkcs11.ObjectHandle, error) {
	attrs := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, keyType),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, value),
	}
	if keyType == pkcs11.CKK_AES {
		attrs = append(attrs, pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true), pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, true))
	} else {
		attrs = append(attrs, pkcs11.NewAttribute(pkcs11.CKA_SIGN, true))
	}
	o, err := r.p.CreateObject(r.session, privateAttrs(attrs...))
	if err != nil {
		return 0, fmt.Errorf("raw: import: %w", err)
	}
	return o, nil
}

// seal is one AES-GCM encryption with a 12-byte nonce and a 16-byte tag:
// ciphertext‖tag.
func (r *rawToken) seal(key pkcs11.ObjectHandle, nonce, data []byte) ([]byte, error) {
	params := pkcs11.NewGCMParams(nonce, nil, 128)
	defer params.Free()
	if err := r.p.EncryptInit(r.session, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_GCM, params)}, key); err != nil {
		return nil, fmt.Errorf("raw: encrypt init: %w", err)
	}
	out, err := r.p.Encrypt(r.session, data)
	if err != nil {
		return nil, fmt.Errorf("raw: encrypt: %w", err)
	}
	return out, nil
}

// generateAES generates an AES-256 key.
func (r *rawToken) generateAES() (pkcs11.ObjectHandle, error) {
	o, err := r.p.GenerateKey(r.session, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)}, privateAttrs(
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true),
		pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, true),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32),
	))
	if err != nil {
		return 0, fmt.Errorf("raw: generate AES: %w", err)
	}
	return o, nil
}
