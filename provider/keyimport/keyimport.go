// Package keyimport holds the one set of rules for importing private keys
// (docs/semantics.md#algorithms): which PKCS#8 keys an algorithm accepts. Both backends use
// it, so that a key imports on both or on neither.
//
// # Rules
//
//   - The input is PKCS#8 DER with nothing after it.
//   - ES256/ES384/ES512: an EC key on P-256/P-384/P-521.
//   - EdDSA: an Ed25519 key.
//   - RS*/PS*: an RSA key of 2048 to 8192 bits with two primes.
//   - ECDH-P256/ECDH-P384: an EC key on that curve; X25519: an X25519 key.
//
// Every refusal wraps provider.ErrInvalidArgument and names what was found,
// never the key's bytes.
package keyimport

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"math/big"

	"github.com/wasihsm/wasihsm/provider"
)

// RSA modulus sizes that imports accept.
const (
	MinRSABits = 2048
	MaxRSABits = 8192
)

// Parse parses der as PKCS#8 and checks it with Check. On failure what was
// parsed is discarded.
func Parse(alg provider.Algorithm, der []byte) (any, error) {
	// x509 ignores bytes after the PKCS#8 structure; they are not DER.
	var outer asn1.RawValue
	if rest, err := asn1.Unmarshal(der, &outer); err == nil && len(rest) != 0 {
		return nil, fmt.Errorf("keyimport: %d bytes after the PKCS#8 structure: %w", len(rest), provider.ErrInvalidArgument)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("keyimport: not a PKCS#8 private key (%v): %w", err, provider.ErrInvalidArgument)
	}
	key, err := Check(alg, parsed)
	if err != nil {
		Discard(parsed)
		return nil, err
	}
	return key, nil
}

// Check checks that priv is a key for alg and returns it in the form the
// algorithm uses: ed25519.PrivateKey (EdDSA), *rsa.PrivateKey (RS*, PS*),
// *ecdsa.PrivateKey (ES*), *ecdh.PrivateKey (ECDH-P*, X25519; an ECDSA key
// is converted, and its ECDSA form discarded).
func Check(alg provider.Algorithm, priv any) (any, error) {
	switch {
	case alg.Kind == provider.KindSignature && alg.Curve == "Ed25519":
		if ed, ok := priv.(ed25519.PrivateKey); ok {
			return ed, nil
		}
	case alg.IsRSA():
		r, ok := priv.(*rsa.PrivateKey)
		if !ok {
			break
		}
		if bits := r.N.BitLen(); bits < MinRSABits || bits > MaxRSABits {
			return nil, fmt.Errorf("keyimport: RSA key of %d bits, want %d to %d: %w", bits, MinRSABits, MaxRSABits, provider.ErrInvalidArgument)
		}
		if len(r.Primes) != 2 {
			return nil, fmt.Errorf("keyimport: multi-prime RSA key: %w", provider.ErrInvalidArgument)
		}
		return r, nil
	case alg.Kind == provider.KindSignature:
		if e, ok := priv.(*ecdsa.PrivateKey); ok && e.Curve.Params().Name == alg.Curve {
			return e, nil
		}
	case alg.Kind == provider.KindKeyAgreement:
		switch p := priv.(type) {
		case *ecdh.PrivateKey:
			if curveName(p.Curve()) == alg.Curve {
				return p, nil
			}
		case *ecdsa.PrivateKey:
			// x509 returns EC keys on NIST curves as ECDSA keys: the
			// PKCS#8 encoding is the same.
			if p.Curve.Params().Name == alg.Curve {
				e, err := p.ECDH()
				if err != nil {
					return nil, fmt.Errorf("keyimport: %v: %w", err, provider.ErrInvalidArgument)
				}
				Discard(p)
				return e, nil
			}
		}
	default:
		return nil, fmt.Errorf("keyimport: %s keys are not imported from PKCS#8: %w", alg.Name, provider.ErrInvalidArgument)
	}
	return nil, wrongKey(alg, priv)
}

func curveName(c ecdh.Curve) string {
	switch c {
	case ecdh.P256():
		return "P-256"
	case ecdh.P384():
		return "P-384"
	case ecdh.P521():
		return "P-521"
	case ecdh.X25519():
		return "X25519"
	}
	return fmt.Sprint(c)
}

// wrongKey is the error for a key of the wrong type or curve.
func wrongKey(alg provider.Algorithm, priv any) error {
	var found string
	switch p := priv.(type) {
	case *ecdsa.PrivateKey:
		found = "an EC key on " + p.Curve.Params().Name
	case ed25519.PrivateKey:
		found = "an Ed25519 key"
	case *rsa.PrivateKey:
		found = "an RSA key"
	case *ecdh.PrivateKey:
		found = "an ECDH key on " + curveName(p.Curve())
	default:
		found = fmt.Sprintf("a key of type %T", priv)
	}
	want := alg.Curve
	if alg.IsRSA() {
		want = "RSA"
	}
	return fmt.Errorf("keyimport: %s, want a %s key: %w", found, want, provider.ErrInvalidArgument)
}

// Discard zeroes what it can of a private key that is being dropped: the
// Ed25519 key bytes, and the words of the big integers of ECDSA and RSA
// keys. What Go keeps elsewhere (precomputed tables, ECDH keys) is out of
// reach.
func Discard(priv any) {
	switch p := priv.(type) {
	case ed25519.PrivateKey:
		clear(p)
	case *ecdsa.PrivateKey:
		if p != nil {
			//lint:ignore SA1019 zeroing is the one change made to D, as the key is dropped.
			WipeInts(p.D)
		}
	case *rsa.PrivateKey:
		if p != nil {
			WipeInts(p.D, p.Precomputed.Dp, p.Precomputed.Dq, p.Precomputed.Qinv)
			WipeInts(p.Primes...)
		}
	}
}

// WipeInts zeroes the words of big integers in place. The integers are
// unusable afterwards; callers drop them.
func WipeInts(xs ...*big.Int) {
	for _, x := range xs {
		if x != nil {
			clear(x.Bits())
		}
	}
}
