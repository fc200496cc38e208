package provider

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// contractNames are the algorithm names of docs/semantics.md#algorithms, by kind.
var contractNames = map[Kind][]string{
	KindHash:         {"SHA-1", "SHA-224", "SHA-256", "SHA-384", "SHA-512", "SHA3-224", "SHA3-256", "SHA3-384", "SHA3-512"},
	KindXOF:          {"SHAKE128", "SHAKE256"},
	KindAEAD:         {"A128GCM", "A192GCM", "A256GCM"},
	KindMAC:          {"HS256", "HS384", "HS512"},
	KindSignature:    {"ES256", "ES384", "ES512", "EdDSA", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"},
	KindKeyAgreement: {"ECDH-P256", "ECDH-P384", "X25519"},
	KindKDF:          {"HKDF"},
}

func TestRegistryIsExactlyTheContract(t *testing.T) {
	n := 0
	for kind, names := range contractNames {
		for _, name := range names {
			a, ok := Lookup(name)
			require.True(t, ok, name)
			assert.Equal(t, kind, a.Kind, name)
			assert.Equal(t, name, a.Name)
			b, ok := LookupBytes([]byte(name))
			assert.True(t, ok)
			assert.Equal(t, a, b)
			n++
		}
	}
	assert.Len(t, Algorithms(), n, "no name beyond the contract's")
}

func TestLookupIsExactAndCaseSensitive(t *testing.T) {
	for _, name := range []string{"sha-256", "SHA256", "SHA-256 ", "es256", "Ed25519", "", "hkdf"} {
		_, ok := Lookup(name)
		assert.False(t, ok, "%q", name)
	}
	assert.Panics(t, func() { MustLookup("nope") })
}

func TestAlgorithmSizes(t *testing.T) {
	tests := []struct {
		name            string
		output, keySize int
		hash            string
	}{
		{"SHA-1", 20, 0, ""}, {"SHA-224", 28, 0, ""}, {"SHA3-512", 64, 0, ""},
		{"A128GCM", 16, 16, ""}, {"A192GCM", 16, 24, ""}, {"A256GCM", 16, 32, ""},
		{"HS256", 32, 32, "SHA-256"}, {"HS384", 48, 48, "SHA-384"}, {"HS512", 64, 64, "SHA-512"},
		{"ES256", 64, 0, "SHA-256"}, {"ES384", 96, 0, "SHA-384"}, {"ES512", 132, 0, "SHA-512"},
		{"EdDSA", 64, 0, ""}, {"RS256", 0, 2048, "SHA-256"}, {"PS512", 0, 2048, "SHA-512"},
		{"ECDH-P256", 32, 0, ""}, {"ECDH-P384", 48, 0, ""}, {"X25519", 32, 0, ""},
	}
	for _, tt := range tests {
		a := MustLookup(tt.name)
		assert.Equal(t, tt.output, a.OutputSize, tt.name)
		assert.Equal(t, tt.keySize, a.KeySize, tt.name)
		assert.Equal(t, tt.hash, a.Hash, tt.name)
	}
	gcm := MustLookup("A128GCM")
	assert.Equal(t, 12, gcm.NonceSize)
	assert.Equal(t, 16, gcm.TagSize)
	assert.True(t, MustLookup("PS256").IsPSS())
	assert.False(t, MustLookup("RS256").IsPSS())
	assert.True(t, MustLookup("RS256").IsRSA())
	assert.False(t, MustLookup("ES256").IsRSA())
}

func TestKinds(t *testing.T) {
	assert.False(t, KindHash.Keyed())
	assert.False(t, KindXOF.Keyed())
	for _, k := range []Kind{KindAEAD, KindMAC, KindSignature, KindKDF, KindKeyAgreement} {
		assert.True(t, k.Keyed(), k.String())
	}
	assert.True(t, KindAEAD.Symmetric())
	assert.True(t, KindMAC.Symmetric())
	assert.True(t, KindKDF.Symmetric())
	assert.False(t, KindSignature.Symmetric())
	assert.False(t, KindKeyAgreement.Symmetric())
	assert.Equal(t, "kind(99)", Kind(99).String())
	assert.Equal(t, "op(99)", Operation(99).String())
}

func TestHKDFHash(t *testing.T) {
	for name, want := range map[string]bool{"SHA-256": true, "SHA-384": true, "SHA-512": true, "SHA-1": false, "SHA3-256": false, "SHAKE128": false} {
		assert.Equal(t, want, HKDFHash(MustLookup(name)), name)
	}
}

func TestManageable(t *testing.T) {
	for _, name := range []string{"A128GCM", "HS256", "ES256", "EdDSA", "RS256", "PS512", "ECDH-P256", "X25519"} {
		assert.True(t, Manageable(MustLookup(name)), name)
	}
	for _, name := range []string{"SHA-256", "SHA3-512", "SHAKE128", "HKDF"} {
		assert.False(t, Manageable(MustLookup(name)), name)
	}
	assert.False(t, Manageable(Algorithm{}))
}
