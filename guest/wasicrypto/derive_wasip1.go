//go:build wasip1

package wasicrypto

import (
	"strconv"

	"github.com/wasihsm/wasihsm/guest/wasicrypto/internal/abi"
)

// HKDFExpand runs HKDF-Expand (RFC 5869) with the pseudorandom key prk from
// [NewHKDFKey] and the optional info, and returns n bytes of output keying
// material (1 ≤ n ≤ 255 × the hash length).
func HKDFExpand(prk *Key, info []byte, n int) ([]byte, error) {
	return Derive("HKDF", prk, info, n)
}

// ECDH returns the shared secret of key agreement alg ("ECDH-P256",
// "ECDH-P384" or "X25519") between key and the peer's public key: an
// uncompressed SEC 1 point for the NIST curves, 32 bytes for X25519. The
// secret is the raw x coordinate (or X25519 output); run it through a KDF
// before using it as a key.
func ECDH(alg string, key *Key, peerPublicKey []byte) ([]byte, error) {
	n := sharedSecretSize(alg)
	if n == 0 {
		return nil, &CallError{Func: "ECDH", Detail: "unknown key agreement " + strconv.Quote(alg), Errno: ErrnoNotsup}
	}
	if peerPublicKey == nil {
		peerPublicKey = []byte{} // the peer key is required: always set it
	}
	return Derive(alg, key, peerPublicKey, n)
}

// Derive is the general form of [HKDFExpand] and [ECDH]: it prepares a
// derivation of algorithm alg with key, sets nonce when it is not nil (the
// info for HKDF, the peer's public key for key agreement), and returns n
// bytes of output.
//
// When the derivation fails after it was prepared, its host state stays
// allocated until the guest instance ends: the API has no call to close it.
func Derive(alg string, key *Key, nonce []byte, n int) ([]byte, error) {
	if n < 1 {
		return nil, invalid("Derive", "length must be at least 1")
	}
	var state uint32
	if err := check("derive_key_prepare", abi.DeriveKeyPrepare(stringPtr(alg), size(alg), key.Handle(), &state)); err != nil {
		return nil, err
	}
	if nonce != nil {
		if err := check("derive_key_set_nonce", abi.DeriveKeySetNonce(state, bytesPtr(nonce), size(nonce))); err != nil {
			return nil, err
		}
	}
	out := make([]byte, n)
	if err := check("derive_key", abi.DeriveKey(state, bytesPtr(out), size(out))); err != nil {
		return nil, err
	}
	return out, nil
}
