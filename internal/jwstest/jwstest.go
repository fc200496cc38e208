// Package jwstest checks what the JWS example guest (examples/jws) prints:
// a compact ES256 JWS on its first line, then the signing key's public key
// as a PEM block. Tests that run the example — on the software backend, on
// a token, through the CLI — check its output here, with the standard
// library only, so that they all hold it to the same rules.
package jwstest

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Output is the example's output, checked.
type Output struct {
	// JWS is the compact JWS, header.payload.signature.
	JWS string
	// Key is the public key the guest printed; the signature verifies with
	// it.
	Key *ecdsa.PublicKey
	// Payload is the JWS's payload, decoded.
	Payload []byte
}

// Check parses out, the example's standard output, and fails t unless it
// is a compact JWS whose header says ES256 and whose 64-byte r‖s signature
// (RFC 7518 §3.4) verifies with the public key printed after it.
func Check(t testing.TB, out string) Output {
	t.Helper()
	jws, rest, ok := strings.Cut(out, "\n")
	require.True(t, ok, "a JWS line, then a public key: %q", out)
	block, _ := pem.Decode([]byte(rest))
	require.NotNil(t, block, "a PEM block follows the JWS: %q", rest)
	require.Equal(t, "PUBLIC KEY", block.Type)
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	require.NoError(t, err)
	key, ok := pub.(*ecdsa.PublicKey)
	require.True(t, ok, "an EC public key, not %T", pub)

	parts := strings.Split(jws, ".")
	require.Len(t, parts, 3, "compact JWS")
	header, err := base64.RawURLEncoding.DecodeString(parts[0])
	require.NoError(t, err)
	var h struct{ Alg string }
	require.NoError(t, json.Unmarshal(header, &h))
	require.Equal(t, "ES256", h.Alg)
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	require.NoError(t, err)
	require.Len(t, sig, 64, "ES256 signature is r‖s, 64 bytes")
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	require.True(t, ecdsa.Verify(key, digest[:], r, s), "the JWS verifies with the printed public key")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	return Output{JWS: jws, Key: key, Payload: payload}
}
