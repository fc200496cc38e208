//go:build cgo

package hsm

import (
	"github.com/miekg/pkcs11"

	"github.com/wasihsm/wasihsm/provider"
)

// need is one thing an (algorithm, operation) pair needs of the token: a
// mechanism listed with a flag, and, when size is not 0, a key-size range
// that covers size (in the mechanism's unit: bytes for AES, bits for EC and
// RSA).
type need struct {
	mech uint
	flag uint
	size uint
	ec   bool // an EC mechanism: named curves and uncompressed points
}

// The EC capability flags of CK_MECHANISM_INFO.
const (
	ecFlags    = pkcs11.CKF_EC_F_P | pkcs11.CKF_EC_F_2M | pkcs11.CKF_EC_ECPARAMETERS | pkcs11.CKF_EC_NAMEDCURVE | pkcs11.CKF_EC_UNCOMPRESS | pkcs11.CKF_EC_COMPRESS
	ecWeNeed   = pkcs11.CKF_EC_F_P | pkcs11.CKF_EC_NAMEDCURVE | pkcs11.CKF_EC_UNCOMPRESS
	anyKeySize = 0
)

// hashMechanisms are the digest mechanisms of the hash algorithms (SHAKE
// has no PKCS#11 digest mechanism).
var hashMechanisms = map[string]uint{
	"SHA-1": pkcs11.CKM_SHA_1, "SHA-224": pkcs11.CKM_SHA224, "SHA-256": pkcs11.CKM_SHA256,
	"SHA-384": pkcs11.CKM_SHA384, "SHA-512": pkcs11.CKM_SHA512,
	"SHA3-224": pkcs11.CKM_SHA3_224, "SHA3-256": pkcs11.CKM_SHA3_256,
	"SHA3-384": pkcs11.CKM_SHA3_384, "SHA3-512": pkcs11.CKM_SHA3_512,
}

// hmacMechanisms are the HMAC mechanisms over the hashes of HS*, HKDF and
// RFC 2104 key shortening (hmacKey); callers look up only those hashes.
var hmacMechanisms = map[string]uint{
	"SHA-256": pkcs11.CKM_SHA256_HMAC, "SHA-384": pkcs11.CKM_SHA384_HMAC, "SHA-512": pkcs11.CKM_SHA512_HMAC,
}

// needs says what the token must list to serve op for alg, and how the
// result counts: provider.Native, or provider.Composed for HKDF, built from
// the token's HMAC. nil needs means the backend cannot do it on any token.
func needs(alg provider.Algorithm, op provider.Operation) ([]need, provider.Support) {
	native := provider.Native
	switch alg.Kind {
	case provider.KindHash:
		if m, ok := hashMechanisms[alg.Name]; ok && op == provider.OpHash {
			return []need{{mech: m, flag: pkcs11.CKF_DIGEST}}, native
		}
	case provider.KindAEAD:
		size := uint(alg.KeySize)
		switch op {
		case provider.OpGenerate:
			return []need{{mech: pkcs11.CKM_AES_KEY_GEN, flag: pkcs11.CKF_GENERATE, size: size}}, native
		case provider.OpImport, provider.OpEncrypt:
			return []need{{mech: pkcs11.CKM_AES_GCM, flag: pkcs11.CKF_ENCRYPT, size: size}}, native
		case provider.OpDecrypt:
			return []need{{mech: pkcs11.CKM_AES_GCM, flag: pkcs11.CKF_DECRYPT, size: size}}, native
		}
	case provider.KindMAC:
		hmac := need{mech: hmacMechanisms[alg.Hash], flag: pkcs11.CKF_SIGN}
		switch op {
		case provider.OpGenerate:
			return []need{{mech: pkcs11.CKM_GENERIC_SECRET_KEY_GEN, flag: pkcs11.CKF_GENERATE}, hmac}, native
		case provider.OpImport, provider.OpSign:
			return []need{hmac}, native
		}
	case provider.KindKDF:
		// HKDF-Extract and -Expand are HMAC calls (RFC 5869): the PRK is a
		// generic secret on the token. An HKDF key is always imported (its
		// IKM is the input), with any of the three hashes.
		if op == provider.OpImport || op == provider.OpDerive {
			var ns []need
			for _, h := range []string{"SHA-256", "SHA-384", "SHA-512"} {
				ns = append(ns, need{mech: hmacMechanisms[h], flag: pkcs11.CKF_SIGN})
			}
			return ns, provider.Composed
		}
	case provider.KindSignature:
		var use need
		switch {
		case alg.Curve == "Ed25519":
			use = need{mech: ckmEdDSA, flag: pkcs11.CKF_SIGN}
		case alg.IsPSS():
			use = need{mech: pkcs11.CKM_RSA_PKCS_PSS, flag: pkcs11.CKF_SIGN, size: uint(alg.KeySize)}
		case alg.IsRSA():
			use = need{mech: pkcs11.CKM_RSA_PKCS, flag: pkcs11.CKF_SIGN, size: uint(alg.KeySize)}
		default:
			use = need{mech: pkcs11.CKM_ECDSA, flag: pkcs11.CKF_SIGN, size: curveNamed(alg.Curve).bits, ec: true}
		}
		switch op {
		case provider.OpGenerate:
			switch {
			case alg.Curve == "Ed25519":
				return []need{{mech: ckmECEdwardsKeyPairGen, flag: pkcs11.CKF_GENERATE_KEY_PAIR}}, native
			case alg.IsRSA():
				return []need{{mech: pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN, flag: pkcs11.CKF_GENERATE_KEY_PAIR, size: uint(alg.KeySize)}}, native
			}
			return []need{{mech: pkcs11.CKM_EC_KEY_PAIR_GEN, flag: pkcs11.CKF_GENERATE_KEY_PAIR, size: curveNamed(alg.Curve).bits, ec: true}}, native
		case provider.OpImport, provider.OpSign, provider.OpExportPublic:
			// An imported or exported key is only worth having where it
			// can sign.
			return []need{use}, native
		}
	case provider.KindKeyAgreement:
		if alg.Curve == "X25519" {
			// CKK_EC_MONTGOMERY keys are not implemented (SoftHSM2 2.6.1
			// has no CKM_EC_MONTGOMERY_KEY_PAIR_GEN to test them on).
			return nil, provider.Unsupported
		}
		derive := need{mech: pkcs11.CKM_ECDH1_DERIVE, flag: pkcs11.CKF_DERIVE, size: curveNamed(alg.Curve).bits, ec: true}
		switch op {
		case provider.OpGenerate:
			return []need{{mech: pkcs11.CKM_EC_KEY_PAIR_GEN, flag: pkcs11.CKF_GENERATE_KEY_PAIR, size: curveNamed(alg.Curve).bits, ec: true}}, native
		case provider.OpImport, provider.OpDerive, provider.OpExportPublic:
			return []need{derive}, native
		}
	}
	return nil, provider.Unsupported
}

// interesting lists every mechanism that needs can ask for, so that
// discovery asks the token about those only (each question is a round trip
// through p11-kit remoting).
func interesting() map[uint]bool {
	m := map[uint]bool{}
	for _, alg := range provider.Algorithms() {
		for _, op := range allOperations {
			ns, _ := needs(alg, op)
			for _, n := range ns {
				m[n.mech] = true
			}
		}
	}
	return m
}

var allOperations = []provider.Operation{
	provider.OpHash, provider.OpGenerate, provider.OpImport, provider.OpSign,
	provider.OpEncrypt, provider.OpDecrypt, provider.OpDerive, provider.OpExportPublic,
}

// capabilities is what discovery found on a token, and what using it
// taught.
type capabilities struct {
	mechs   map[uint]pkcs11.MechanismInfo
	support map[capKey]provider.Support
	// dev are the token's deviations from PKCS#11 found so far.
	dev deviations
	// copyable is the attribute type that forbids copies in a key's
	// policy: CKA_COPYABLE. A test puts a type the token does not know in
	// its place to make the token deviate (see deviations.noCopyable).
	copyable uint
}

type capKey struct {
	alg string
	op  provider.Operation
}

// discover asks the token in slot for its mechanisms (C_GetMechanismList,
// then C_GetMechanismInfo for those the backend could use) and works out
// the support of every (algorithm, operation) pair.
func discover(p *pkcs11.Ctx, slot uint) (*capabilities, error) {
	list, err := p.GetMechanismList(slot)
	if err != nil {
		return nil, ckrError("list mechanisms", err)
	}
	want := interesting()
	c := &capabilities{mechs: map[uint]pkcs11.MechanismInfo{}, support: map[capKey]provider.Support{}, copyable: pkcs11.CKA_COPYABLE}
	for _, m := range list {
		if !want[m.Mechanism] {
			continue
		}
		info, err := p.GetMechanismInfo(slot, []*pkcs11.Mechanism{pkcs11.NewMechanism(m.Mechanism, nil)})
		if err != nil {
			// A mechanism the token lists but will not describe is one
			// it does not really offer.
			continue
		}
		c.mechs[m.Mechanism] = info
	}
	for _, alg := range provider.Algorithms() {
		for _, op := range allOperations {
			c.support[capKey{alg.Name, op}] = c.evaluate(alg, op)
		}
	}
	return c, nil
}

// evaluate is the support of (alg, op) given the token's mechanisms.
func (c *capabilities) evaluate(alg provider.Algorithm, op provider.Operation) provider.Support {
	ns, level := needs(alg, op)
	if len(ns) == 0 {
		return provider.Unsupported
	}
	for _, n := range ns {
		if !c.has(n) {
			return provider.Unsupported
		}
	}
	return level
}

// has reports whether the token meets n.
func (c *capabilities) has(n need) bool {
	info, ok := c.mechs[n.mech]
	if !ok || info.Flags&n.flag == 0 {
		return false
	}
	if n.ec && info.Flags&ecFlags != 0 && info.Flags&ecWeNeed != ecWeNeed {
		return false
	}
	if n.size != anyKeySize && (info.MinKeySize != 0 || info.MaxKeySize != 0) {
		return info.MinKeySize <= n.size && n.size <= info.MaxKeySize
	}
	return true
}

// supports is the support of (alg, op); alg must be registered.
func (c *capabilities) supports(alg provider.Algorithm, op provider.Operation) provider.Support {
	return c.support[capKey{alg.Name, op}]
}

// runs reports whether a key of alg that is on the token can do alg's
// work there: every operation of provider.KeyOperations(alg). It is the
// one answer to which algorithms a token key offers (the Admin's key
// descriptions, Fits, Create); supports, which it asks, knows what the
// token can do.
func (c *capabilities) runs(alg provider.Algorithm) bool {
	ops := provider.KeyOperations(alg)
	for _, op := range ops {
		if c.supports(alg, op) == provider.Unsupported {
			return false
		}
	}
	return len(ops) > 0
}

// mechanism returns what the token says of m, and whether it lists it.
func (c *capabilities) mechanism(m uint) (pkcs11.MechanismInfo, bool) {
	info, ok := c.mechs[m]
	return info, ok
}

// operationsOf are the operations that apply to alg, in the order of
// `wasihsm slots`: hashing for hashes; creation and the key's operations
// for keyed algorithms (import only for HKDF, whose keys always have
// input).
func operationsOf(alg provider.Algorithm) []provider.Operation {
	switch {
	case !alg.Kind.Keyed():
		return []provider.Operation{provider.OpHash}
	case alg.Kind == provider.KindKDF:
		return []provider.Operation{provider.OpImport, provider.OpDerive}
	}
	return append([]provider.Operation{provider.OpGenerate, provider.OpImport}, provider.KeyOperations(alg)...)
}

// list is every applicable (algorithm, operation) pair with its support.
func (c *capabilities) list() []Capability {
	var out []Capability
	for _, alg := range provider.Algorithms() {
		for _, op := range operationsOf(alg) {
			out = append(out, Capability{Algorithm: alg, Operation: op, Support: c.supports(alg, op)})
		}
	}
	return out
}

// Supports implements provider.Backend for a [Backend], and answers the
// same for an [Admin]: provider.Native where the token lists the
// mechanisms (with the flags and key sizes) that op on alg needs,
// provider.Composed for HKDF when the token has HMAC with SHA-256,
// SHA-384 and SHA-512, and provider.Unsupported otherwise (SHAKE always;
// X25519 always, see the package documentation).
func (t *token) Supports(alg provider.Algorithm, op provider.Operation) provider.Support {
	if !registered(alg) {
		return provider.Unsupported
	}
	return t.caps.supports(alg, op)
}

// registered reports whether alg is exactly an entry of the registry, so
// that a hand-made Algorithm value cannot pass for a known one.
func registered(alg provider.Algorithm) bool {
	reg, ok := provider.Lookup(alg.Name)
	return ok && reg == alg
}
