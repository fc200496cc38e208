package vectors

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/sha512"
	"encoding/hex"
	"hash"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stdlibDigest computes the reference answer with the standard library.
func stdlibDigest(t *testing.T, alg string, msg []byte, n int) []byte {
	t.Helper()
	var h hash.Hash
	switch alg {
	case "SHA-1":
		h = sha1.New()
	case "SHA-224":
		h = sha256.New224()
	case "SHA-256":
		h = sha256.New()
	case "SHA-384":
		h = sha512.New384()
	case "SHA-512":
		h = sha512.New()
	case "SHA3-224":
		h = sha3.New224()
	case "SHA3-256":
		h = sha3.New256()
	case "SHA3-384":
		h = sha3.New384()
	case "SHA3-512":
		h = sha3.New512()
	case "SHAKE128":
		return sha3.SumSHAKE128(msg, n)
	case "SHAKE256":
		return sha3.SumSHAKE256(msg, n)
	default:
		t.Fatalf("unknown hash %q", alg)
	}
	h.Write(msg)
	return h.Sum(nil)
}

// TestHashes checks the parser against the counts of testdata/nist/README.md
// and every value (the hand-typed extra ones above all) against the standard
// library.
func TestHashes(t *testing.T) {
	vs := Hashes(t)
	perFile := map[string]int{}
	perAlg := map[string]int{}
	for _, v := range vs {
		if file := strings.Fields(v.Source)[0]; strings.HasPrefix(file, "nist/") {
			perFile[file]++
		}
		perAlg[v.Alg]++
		assert.Equal(t, hex.EncodeToString(v.Digest), hex.EncodeToString(stdlibDigest(t, v.Alg, v.Msg, len(v.Digest))), v.Source)
	}
	assert.Equal(t, map[string]int{
		"nist/SHA3_256ShortMsg.rsp": 137, "nist/SHA3_256LongMsg.rsp": 100,
		"nist/SHA3_384ShortMsg.rsp": 105, "nist/SHA3_512ShortMsg.rsp": 73,
		"nist/SHA256ShortMsg.rsp": 65, "nist/SHA256LongMsg.rsp": 64,
		"nist/SHA384ShortMsg.rsp": 129, "nist/SHA512ShortMsg.rsp": 129,
		// Excerpts (testdata/README.md): Len = 0 to 256 of the short-message
		// files, and one record per output length of the VariableOut files.
		"nist/SHA3_224ShortMsg.excerpt.rsp": 33, "nist/SHAKE128ShortMsg.excerpt.rsp": 33,
		"nist/SHAKE256ShortMsg.excerpt.rsp": 33, "nist/SHAKE128VariableOut.excerpt.rsp": 14,
		"nist/SHAKE256VariableOut.excerpt.rsp": 13,
	}, perFile)
	// The VariableOut excerpts ask for outputs of many lengths, from 2 bytes.
	lengths := map[int]bool{}
	for _, v := range vs {
		if strings.Contains(v.Source, "VariableOut") {
			lengths[len(v.Digest)] = true
		}
	}
	assert.GreaterOrEqual(t, len(lengths), 20, "distinct SHAKE output lengths")
	assert.True(t, lengths[2], "a 16-bit SHAKE256 output")
	for _, alg := range []string{"SHA-1", "SHA-224", "SHA3-224", "SHAKE128", "SHAKE256"} {
		assert.GreaterOrEqual(t, perAlg[alg], 3, "extra known answers for %s", alg)
	}
	// Len = 0 comes with Msg = 00 and must give the empty message.
	for _, v := range vs {
		if strings.HasPrefix(v.Source, "nist/SHA256ShortMsg.rsp Len=0 ") {
			assert.Empty(t, v.Msg)
			assert.Equal(t, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", hex.EncodeToString(v.Digest))
			return
		}
	}
	t.Error("no Len=0 record in SHA256ShortMsg.rsp")
}

type tally struct{ valid, invalid, acceptable int }

func count(t *testing.T, cases []Case) map[string]tally {
	t.Helper()
	out := map[string]tally{}
	for _, c := range cases {
		n := out[c.File]
		switch c.Result {
		case Valid:
			n.valid++
		case Invalid:
			n.invalid++
		case Acceptable:
			n.acceptable++
		}
		out[c.File] = n
	}
	return out
}

func cases[V any](vs []V, c func(V) Case) []Case {
	out := make([]Case, len(vs))
	for i, v := range vs {
		out[i] = c(v)
	}
	return out
}

// TestWycheproofCounts checks each loader against the valid/invalid/
// acceptable counts of testdata/wycheproof/README.md.
func TestWycheproofCounts(t *testing.T) {
	got := map[string]tally{}
	merge := func(m map[string]tally) {
		for k, v := range m {
			got[k] = v
		}
	}
	merge(count(t, cases(AESGCM(t), func(v AESGCMVector) Case { return v.Case })))
	merge(count(t, cases(HMAC(t), func(v HMACVector) Case { return v.Case })))
	merge(count(t, cases(HKDF(t), func(v HKDFVector) Case { return v.Case })))
	merge(count(t, cases(ECDH(t), func(v ECDHVector) Case { return v.Case })))
	merge(count(t, cases(Ed25519(t), func(v Ed25519Vector) Case { return v.Case })))
	merge(count(t, cases(ECDSAP1363(t), func(v ECDSAVector) Case { return v.Case })))
	merge(count(t, cases(RSASigGen(t), func(v RSASigGenVector) Case { return v.Case })))
	merge(count(t, cases(RSAPSS(t), func(v RSAPSSVector) Case { return v.Case })))
	assert.Equal(t, map[string]tally{
		"aes_gcm_test.json":                      {229, 87, 0},
		"ecdh_secp256r1_test.json":               {330, 52, 230},
		"ecdsa_secp256r1_sha256_p1363_test.json": {173, 89, 0},
		"ecdsa_secp384r1_sha384_p1363_test.json": {193, 87, 0},
		"ed25519_test.json":                      {88, 63, 0},
		"hkdf_sha256_test.json":                  {83, 3, 0},
		"hkdf_sha384_test.json":                  {80, 3, 0},
		"hkdf_sha512_test.json":                  {80, 3, 0},
		"hmac_sha256_test.json":                  {66, 108, 0},
		"hmac_sha384_test.json":                  {66, 108, 0},
		"hmac_sha512_test.json":                  {66, 108, 0},
		"rsa_pkcs1_2048_sig_gen_test.json":       {32, 0, 11},
		"rsa_pss_2048_sha256_mgf1_32_test.json":  {63, 45, 0},
	}, got)
}

func TestLoaderFields(t *testing.T) {
	t.Run("AESGCM", func(t *testing.T) {
		v := AESGCM(t)[0]
		assert.Equal(t, "aes_gcm_test.json#1", v.Case.String())
		assert.Equal(t, []int{128, 96, 128}, []int{v.KeyBits, v.IVBits, v.TagBits})
		assert.Len(t, v.Key, 16)
		assert.Len(t, v.IV, 12)
		assert.Len(t, v.Tag, 16)
		assert.True(t, v.HasFlag("Ktv"))
	})
	t.Run("HMAC", func(t *testing.T) {
		truncated := 0
		for _, v := range HMAC(t) {
			require.Len(t, v.Tag, v.TagBits/8, v.String())
			require.Len(t, v.Key, v.KeyBits/8, v.String())
			if v.TagBits < 8*hashSize(v.Hash) {
				truncated++
			}
		}
		assert.Positive(t, truncated)
	})
	t.Run("HKDF", func(t *testing.T) {
		v := HKDF(t)[0]
		// RFC 5869 test case 1.
		assert.Equal(t, "SHA-256", v.Hash)
		assert.Equal(t, 42, v.Size)
		assert.Len(t, v.OKM, 42)
		assert.Len(t, v.IKM, 22)
	})
	t.Run("ECDH", func(t *testing.T) {
		for _, v := range ECDH(t) {
			require.Len(t, v.Private, 32, v.String())
		}
	})
	t.Run("Ed25519", func(t *testing.T) {
		seeded := 0
		for _, v := range Ed25519(t) {
			require.Len(t, v.PublicKey, 32)
			if v.Seed != nil {
				seeded++
			}
		}
		assert.Equal(t, 5, seeded, "RFC 8032 TEST 1, 2, 3 and 1024, and TEST 1's key in one invalid case")
	})
	t.Run("ECDSA", func(t *testing.T) {
		for _, v := range ECDSAP1363(t) {
			require.Equal(t, byte(4), v.PublicKey[0], v.String())
		}
	})
	t.Run("RSA", func(t *testing.T) {
		algs := map[string]int{}
		for _, v := range RSASigGen(t) {
			algs[v.Alg]++
			require.Equal(t, 2048, v.KeyBits)
			require.Len(t, v.Sig, 256)
		}
		assert.Equal(t, map[string]int{"": 16, "RS256": 10, "RS384": 8, "RS512": 9}, algs)
		for _, v := range RSAPSS(t) {
			require.Equal(t, "PS256", v.Alg)
			require.Equal(t, 32, v.SaltLen)
		}
	})
}

func TestParseMsg(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"-", ""},
		{"ascii:abc", "abc"},
		{"hex:00ff", "\x00\xff"},
		{"repeat:a3:3", "\xa3\xa3\xa3"},
	} {
		assert.True(t, bytes.Equal([]byte(tc.want), parseMsg(t, "test", tc.in)), tc.in)
	}
}
