// Package vectors loads the known-answer test vectors that the whole
// project's tests share: NIST CAVP hash files, Wycheproof files, and a few
// published values that neither set covers. Tests of any backend call its
// typed loaders instead of parsing data files of their own.
//
// # Data
//
// The files live in this package's testdata directory, with their source
// and licence next to them (see testdata/README.md):
//
//   - testdata/nist: NIST CAVP byte-oriented response files for SHA-256,
//     SHA-384, SHA-512, SHA3-256, SHA3-384 and SHA3-512, and excerpts
//     (records copied unchanged) of those for SHA3-224, SHAKE128 and
//     SHAKE256, including variable output lengths.
//   - testdata/wycheproof: Wycheproof JSON files (Apache-2.0).
//   - testdata/extra_hashes.txt: published known answers for SHA-1, SHA-224,
//     SHA3-224, SHAKE128 and SHAKE256, each line naming its source.
//   - testdata/ed25519_rfc8032.txt: the RFC 8032 private keys whose public
//     keys and signatures appear in the Wycheproof Ed25519 file.
//
// The files are unmodified copies; the loaders deal with their quirks (CRLF
// line endings, "Len = 0" with "Msg = 00", digest sizes given in bytes for
// SHA-2 and in bits for SHA-3, truncated HMAC tags).
//
// # Use
//
// Every loader takes the test's testing.TB (or any [TB]), fails the test
// when a file is missing or malformed, and returns fresh slices that the
// caller may modify:
//
//	for _, v := range vectors.Hashes(t) {
//		t.Run(v.Source, func(t *testing.T) { … v.Alg, v.Msg, v.Digest … })
//	}
//
// Wycheproof cases carry a [Case] with the file, tcId, comment, flags and
// [Result]. "acceptable" cases may go either way; callers should report
// which way they went.
//
// The files are embedded in the package (go:embed), so the loaders work
// from tests of any package and from binaries such as wasihsm, whose
// conformance command runs the same known answers.
package vectors

import (
	"embed"
	"encoding/hex"
	"fmt"
	"path"
	"slices"
	"strings"
)

// TB is what the loaders need of their caller: a *testing.T, *testing.B or
// *testing.F, or any type that stops the caller in Fatalf (the conformance
// suite, which runs outside tests, panics there).
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// data holds the files of testdata/, so that the loaders work in any
// binary, with or without the source tree (wasihsm conformance).
//
//go:embed testdata
var data embed.FS

func readFile(t TB, name string) []byte {
	t.Helper()
	b, err := data.ReadFile(path.Join("testdata", name))
	if err != nil {
		t.Fatalf("vectors: %v", err)
	}
	return b
}

// unhex decodes s, failing the test with where it came from.
func unhex(t TB, where, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("vectors: %s: %v", where, err)
	}
	return b
}

// lines splits text into lines without their line endings (LF or CRLF).
func lines(b []byte) []string {
	ls := strings.Split(string(b), "\n")
	for i, l := range ls {
		ls[i] = strings.TrimSuffix(l, "\r")
	}
	return ls
}

// HashVector is one known answer for a hash or XOF.
type HashVector struct {
	// Alg is the contract's algorithm name ("SHA-256", "SHAKE128").
	Alg string
	// Msg is the message.
	Msg []byte
	// Digest is the expected output; for an XOF, its length is the output
	// length.
	Digest []byte
	// Source names the file and record, or the published document.
	Source string
}

// nistHashFiles are the NIST files under testdata/nist and the contract
// names of their algorithms. sizeInBits says how the file's [L = …] header
// counts the digest length.
var nistHashFiles = []struct {
	file, alg  string
	sizeInBits bool
}{
	{"SHA256ShortMsg.rsp", "SHA-256", false},
	{"SHA256LongMsg.rsp", "SHA-256", false},
	{"SHA384ShortMsg.rsp", "SHA-384", false},
	{"SHA512ShortMsg.rsp", "SHA-512", false},
	{"SHA3_256ShortMsg.rsp", "SHA3-256", true},
	{"SHA3_256LongMsg.rsp", "SHA3-256", true},
	{"SHA3_384ShortMsg.rsp", "SHA3-384", true},
	{"SHA3_512ShortMsg.rsp", "SHA3-512", true},
	{"SHA3_224ShortMsg.excerpt.rsp", "SHA3-224", true},
}

// nistXOFFiles are the NIST SHAKE files under testdata/nist (excerpts: see
// testdata/README.md) and the contract names of their algorithms.
var nistXOFFiles = []struct{ file, alg string }{
	{"SHAKE128ShortMsg.excerpt.rsp", "SHAKE128"},
	{"SHAKE256ShortMsg.excerpt.rsp", "SHAKE256"},
	{"SHAKE128VariableOut.excerpt.rsp", "SHAKE128"},
	{"SHAKE256VariableOut.excerpt.rsp", "SHAKE256"},
}

// Hashes returns every hash and XOF known answer: the NIST hash files, the
// NIST SHAKE files, then testdata/extra_hashes.txt.
func Hashes(t TB) []HashVector {
	t.Helper()
	var out []HashVector
	for _, f := range nistHashFiles {
		out = append(out, nistHashes(t, f.file, f.alg, f.sizeInBits)...)
	}
	for _, f := range nistXOFFiles {
		out = append(out, nistXOFs(t, f.file, f.alg)...)
	}
	return append(out, extraHashes(t)...)
}

// nistXOFs parses a CAVP SHAKE file: ShortMsg/LongMsg records (Len, Msg,
// Output under an [Outputlen = bits] header) or VariableOut records (COUNT,
// Outputlen, Msg, Output under an [Input Length = bits] header).
func nistXOFs(t TB, file, alg string) []HashVector {
	t.Helper()
	name := "nist/" + file
	var (
		out                   []HashVector
		outBits, inBits, bits = -1, -1, -1
		msg                   []byte
		haveMsg               bool
		location              string
	)
	for n, l := range lines(readFile(t, name)) {
		l = strings.TrimSpace(l)
		where := fmt.Sprintf("%s:%d", name, n+1)
		switch {
		case l == "" || strings.HasPrefix(l, "#"):
		case strings.HasPrefix(l, "[Outputlen = "), strings.HasPrefix(l, "Outputlen = "):
			if _, err := fmt.Sscanf(strings.Trim(l, "[]"), "Outputlen = %d", &outBits); err != nil || outBits%8 != 0 {
				t.Fatalf("vectors: %s: %q: not a whole number of bytes", where, l)
			}
		case strings.HasPrefix(l, "[Input Length = "):
			if _, err := fmt.Sscanf(l, "[Input Length = %d]", &inBits); err != nil || inBits%8 != 0 {
				t.Fatalf("vectors: %s: %q: not a whole number of bytes", where, l)
			}
		case strings.HasPrefix(l, "["), strings.HasPrefix(l, "COUNT = "):
			location = where
		case strings.HasPrefix(l, "Len = "):
			if _, err := fmt.Sscanf(l, "Len = %d", &bits); err != nil || bits%8 != 0 {
				t.Fatalf("vectors: %s: %q: not a whole number of bytes", where, l)
			}
			location = where
		case strings.HasPrefix(l, "Msg = "):
			b := unhex(t, where, strings.TrimPrefix(l, "Msg = "))
			size := bits
			if size < 0 {
				size = inBits
			}
			if size < 0 || len(b) < size/8 {
				t.Fatalf("vectors: %s: message shorter than its length", where)
			}
			msg, haveMsg = b[:size/8], true
		case strings.HasPrefix(l, "Output = "):
			o := unhex(t, where, strings.TrimPrefix(l, "Output = "))
			if !haveMsg || outBits <= 0 || len(o) != outBits/8 {
				t.Fatalf("vectors: %s: output of %d bytes without a message, or not the Outputlen %d bits", where, len(o), outBits)
			}
			if location == "" {
				t.Fatalf("vectors: %s: record without a Len or COUNT line", where)
			}
			out = append(out, HashVector{
				Alg: alg, Msg: msg, Digest: o,
				Source: fmt.Sprintf("%s Len=%d Outputlen=%d (%s)", name, 8*len(msg), outBits, location),
			})
			haveMsg, bits = false, -1
		default:
			t.Fatalf("vectors: %s: unexpected line %q", where, l)
		}
	}
	if len(out) == 0 {
		t.Fatalf("vectors: %s: no vectors", name)
	}
	return out
}

// nistHashes parses one CAVP .rsp file of Len/Msg/MD records.
func nistHashes(t TB, file, alg string, sizeInBits bool) []HashVector {
	t.Helper()
	name := "nist/" + file
	var (
		out      []HashVector
		mdLen    = -1
		bits     = -1
		msg      []byte
		haveMsg  bool
		location string
	)
	for n, l := range lines(readFile(t, name)) {
		l = strings.TrimSpace(l)
		where := fmt.Sprintf("%s:%d", name, n+1)
		switch {
		case l == "" || strings.HasPrefix(l, "#"):
		case strings.HasPrefix(l, "[L = "):
			var size int
			if _, err := fmt.Sscanf(l, "[L = %d]", &size); err != nil {
				t.Fatalf("vectors: %s: %q: %v", where, l, err)
			}
			if sizeInBits {
				size /= 8
			}
			mdLen = size
		case strings.HasPrefix(l, "Len = "):
			if _, err := fmt.Sscanf(l, "Len = %d", &bits); err != nil || bits%8 != 0 {
				t.Fatalf("vectors: %s: %q: not a whole number of bytes", where, l)
			}
			haveMsg, location = false, where
		case strings.HasPrefix(l, "Msg = "):
			b := unhex(t, where, strings.TrimPrefix(l, "Msg = "))
			if bits < 0 || len(b) < bits/8 {
				t.Fatalf("vectors: %s: message shorter than Len", where)
			}
			// "Len = 0" comes with "Msg = 00": the message is the first
			// Len/8 bytes.
			msg, haveMsg = b[:bits/8], true
		case strings.HasPrefix(l, "MD = "):
			md := unhex(t, where, strings.TrimPrefix(l, "MD = "))
			if !haveMsg || len(md) != mdLen {
				t.Fatalf("vectors: %s: digest of %d bytes without a message, or not the [L] size %d", where, len(md), mdLen)
			}
			out = append(out, HashVector{
				Alg: alg, Msg: msg, Digest: md,
				Source: fmt.Sprintf("%s Len=%d (%s)", name, bits, location),
			})
			haveMsg, bits = false, -1
		default:
			t.Fatalf("vectors: %s: unexpected line %q", where, l)
		}
	}
	if len(out) == 0 {
		t.Fatalf("vectors: %s: no vectors", name)
	}
	return out
}

// extraHashes parses testdata/extra_hashes.txt (format in its header).
func extraHashes(t TB) []HashVector {
	t.Helper()
	const name = "extra_hashes.txt"
	var out []HashVector
	for n, l := range lines(readFile(t, name)) {
		where := fmt.Sprintf("%s:%d", name, n+1)
		if l = strings.TrimSpace(l); l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.SplitN(l, " ", 4)
		if len(f) != 4 || strings.TrimSpace(f[3]) == "" {
			t.Fatalf("vectors: %s: want ALG MSG DIGEST SOURCE", where)
		}
		out = append(out, HashVector{
			Alg:    f[0],
			Msg:    parseMsg(t, where, f[1]),
			Digest: unhex(t, where, f[2]),
			Source: fmt.Sprintf("%s: %s", where, strings.TrimSpace(f[3])),
		})
	}
	return out
}

func parseMsg(t TB, where, s string) []byte {
	t.Helper()
	switch {
	case s == "-":
		return []byte{}
	case strings.HasPrefix(s, "ascii:"):
		return []byte(strings.TrimPrefix(s, "ascii:"))
	case strings.HasPrefix(s, "hex:"):
		return unhex(t, where, strings.TrimPrefix(s, "hex:"))
	case strings.HasPrefix(s, "repeat:"):
		var b byte
		var n int
		if _, err := fmt.Sscanf(s, "repeat:%02x:%d", &b, &n); err != nil || n < 0 {
			t.Fatalf("vectors: %s: %q: want repeat:HH:N", where, s)
		}
		return []byte(strings.Repeat(string([]byte{b}), n))
	}
	t.Fatalf("vectors: %s: message %q: want -, ascii:, hex: or repeat:", where, s)
	return nil
}

// Result is a Wycheproof verdict on a test case.
type Result string

// The Wycheproof verdicts.
const (
	// Valid: the operation must succeed with the given output.
	Valid Result = "valid"
	// Invalid: the operation must fail (or, for generation, must not
	// produce the given output).
	Invalid Result = "invalid"
	// Acceptable: either outcome is allowed; report which one happened.
	Acceptable Result = "acceptable"
)

// Case is what every Wycheproof test case carries.
type Case struct {
	// File is the file name under testdata/wycheproof.
	File string
	// ID is the test case's tcId.
	ID int
	// Comment is the case's comment (often empty).
	Comment string
	// Flags are the case's flags, described in the file's "notes".
	Flags []string
	// Result is the expected verdict.
	Result Result
}

// String names the case as "file#tcId" plus its comment, for test names and
// messages.
func (c Case) String() string {
	s := fmt.Sprintf("%s#%d", c.File, c.ID)
	if c.Comment != "" {
		s += " (" + c.Comment + ")"
	}
	return s
}

// HasFlag reports whether the case carries flag f.
func (c Case) HasFlag(f string) bool { return slices.Contains(c.Flags, f) }

// AESGCMVector is a Wycheproof AES-GCM case (aes_gcm_test.json).
type AESGCMVector struct {
	Case
	// KeyBits, IVBits and TagBits are the group's sizes.
	KeyBits, IVBits, TagBits int
	Key, IV, AAD, Msg        []byte
	// CT is the ciphertext without the tag; Tag is the tag.
	CT, Tag []byte
}

// AESGCM returns the cases of aes_gcm_test.json.
func AESGCM(t TB) []AESGCMVector {
	t.Helper()
	type test struct {
		wycheCase
		Key, IV, AAD, Msg, CT, Tag string
	}
	type group struct {
		KeySize, IVSize, TagSize int
		Tests                    []test
	}
	const file = "aes_gcm_test.json"
	var out []AESGCMVector
	for _, g := range loadWycheproof[group](t, file) {
		for _, c := range g.Tests {
			w := c.where(file)
			out = append(out, AESGCMVector{
				Case: c.toCase(file), KeyBits: g.KeySize, IVBits: g.IVSize, TagBits: g.TagSize,
				Key: unhex(t, w, c.Key), IV: unhex(t, w, c.IV), AAD: unhex(t, w, c.AAD),
				Msg: unhex(t, w, c.Msg), CT: unhex(t, w, c.CT), Tag: unhex(t, w, c.Tag),
			})
		}
	}
	return out
}

// HMACVector is a Wycheproof HMAC case (hmac_sha{256,384,512}_test.json).
type HMACVector struct {
	Case
	// Alg is the contract's name of the MAC ("HS256").
	Alg string
	// Hash is the contract's name of the hash ("SHA-256").
	Hash string
	// KeyBits and TagBits are the group's sizes. TagBits may be less than
	// the hash size: the tag is then the leftmost TagBits of the MAC.
	KeyBits, TagBits int
	Key, Msg, Tag    []byte
}

// HMAC returns the cases of the three HMAC files.
func HMAC(t TB) []HMACVector {
	t.Helper()
	type test struct {
		wycheCase
		Key, Msg, Tag string
	}
	type group struct {
		KeySize, TagSize int
		Tests            []test
	}
	var out []HMACVector
	for _, f := range []struct{ file, alg, hash string }{
		{"hmac_sha256_test.json", "HS256", "SHA-256"},
		{"hmac_sha384_test.json", "HS384", "SHA-384"},
		{"hmac_sha512_test.json", "HS512", "SHA-512"},
	} {
		for _, g := range loadWycheproof[group](t, f.file) {
			for _, c := range g.Tests {
				w := c.where(f.file)
				v := HMACVector{
					Case: c.toCase(f.file), Alg: f.alg, Hash: f.hash, KeyBits: g.KeySize, TagBits: g.TagSize,
					Key: unhex(t, w, c.Key), Msg: unhex(t, w, c.Msg), Tag: unhex(t, w, c.Tag),
				}
				if g.TagSize%8 != 0 || len(v.Tag) != g.TagSize/8 {
					t.Fatalf("vectors: %s: tag of %d bytes in a group of %d-bit tags", w, len(v.Tag), g.TagSize)
				}
				out = append(out, v)
			}
		}
	}
	return out
}

// HKDFVector is a Wycheproof HKDF case (hkdf_sha{256,384,512}_test.json).
type HKDFVector struct {
	Case
	// Hash is the contract's name of the hash ("SHA-256").
	Hash string
	// IKM is the input keying material, Salt the extract salt, Info the
	// expand info.
	IKM, Salt, Info []byte
	// Size is the requested output length in bytes; OKM the output (empty
	// for invalid cases, whose Size exceeds 255 hash lengths).
	Size int
	OKM  []byte
}

// HKDF returns the cases of the three HKDF files.
func HKDF(t TB) []HKDFVector {
	t.Helper()
	type test struct {
		wycheCase
		IKM, Salt, Info, OKM string
		Size                 int
	}
	type group struct{ Tests []test }
	var out []HKDFVector
	for _, f := range []struct{ file, hash string }{
		{"hkdf_sha256_test.json", "SHA-256"},
		{"hkdf_sha384_test.json", "SHA-384"},
		{"hkdf_sha512_test.json", "SHA-512"},
	} {
		for _, g := range loadWycheproof[group](t, f.file) {
			for _, c := range g.Tests {
				w := c.where(f.file)
				out = append(out, HKDFVector{
					Case: c.toCase(f.file), Hash: f.hash,
					IKM: unhex(t, w, c.IKM), Salt: unhex(t, w, c.Salt), Info: unhex(t, w, c.Info),
					Size: c.Size, OKM: unhex(t, w, c.OKM),
				})
			}
		}
	}
	return out
}

// ECDHVector is a Wycheproof ECDH case with an ASN.1 public key
// (ecdh_secp256r1_test.json).
type ECDHVector struct {
	Case
	// Curve is the contract's curve name ("P-256").
	Curve string
	// Public is the peer's public key as found in the file: DER
	// SubjectPublicKeyInfo, possibly malformed on purpose.
	Public []byte
	// Private is the private scalar, big-endian, exactly the curve's size
	// (the file's leading zero bytes removed or added).
	Private []byte
	// Shared is the expected shared secret (empty for most invalid cases).
	Shared []byte
}

// ECDH returns the cases of ecdh_secp256r1_test.json.
func ECDH(t TB) []ECDHVector {
	t.Helper()
	type test struct {
		wycheCase
		Public, Private, Shared string
	}
	type group struct {
		Curve, Encoding string
		Tests           []test
	}
	const file = "ecdh_secp256r1_test.json"
	var out []ECDHVector
	for _, g := range loadWycheproof[group](t, file) {
		if g.Curve != "secp256r1" || g.Encoding != "asn" {
			t.Fatalf("vectors: %s: unexpected group curve %q encoding %q", file, g.Curve, g.Encoding)
		}
		for _, c := range g.Tests {
			w := c.where(file)
			out = append(out, ECDHVector{
				Case: c.toCase(file), Curve: "P-256",
				Public:  unhex(t, w, c.Public),
				Private: fixedWidth(t, w, unhex(t, w, c.Private), 32),
				Shared:  unhex(t, w, c.Shared),
			})
		}
	}
	return out
}

// fixedWidth returns the big-endian integer b in exactly n bytes.
func fixedWidth(t TB, where string, b []byte, n int) []byte {
	t.Helper()
	for len(b) > n && b[0] == 0 {
		b = b[1:]
	}
	if len(b) > n {
		t.Fatalf("vectors: %s: integer of %d bytes does not fit in %d", where, len(b), n)
	}
	out := make([]byte, n)
	copy(out[n-len(b):], b)
	return out
}

// Ed25519Vector is a Wycheproof Ed25519 verification case
// (ed25519_test.json).
type Ed25519Vector struct {
	Case
	// PublicKey is the group's 32-byte public key; PublicKeyDER the same
	// as SubjectPublicKeyInfo.
	PublicKey, PublicKeyDER []byte
	// Seed is the 32-byte private key (RFC 8032 seed) of PublicKey when it
	// is known from testdata/ed25519_rfc8032.txt, else nil.
	Seed []byte
	// Msg is the message and Sig the signature to verify.
	Msg, Sig []byte
}

// Ed25519 returns the cases of ed25519_test.json, with Seed filled in for
// the public keys of RFC 8032.
func Ed25519(t TB) []Ed25519Vector {
	t.Helper()
	type test struct {
		wycheCase
		Msg, Sig string
	}
	type group struct {
		PublicKey struct {
			Curve string
			PK    string
		}
		PublicKeyDER string
		Tests        []test
	}
	const file = "ed25519_test.json"
	seeds := map[string][]byte{}
	for _, k := range Ed25519RFC8032(t) {
		seeds[string(k.PublicKey)] = k.Seed
	}
	var out []Ed25519Vector
	for _, g := range loadWycheproof[group](t, file) {
		if g.PublicKey.Curve != "edwards25519" {
			t.Fatalf("vectors: %s: unexpected curve %q", file, g.PublicKey.Curve)
		}
		pk := unhex(t, file, g.PublicKey.PK)
		der := unhex(t, file, g.PublicKeyDER)
		for _, c := range g.Tests {
			w := c.where(file)
			out = append(out, Ed25519Vector{
				Case: c.toCase(file), PublicKey: slices.Clone(pk), PublicKeyDER: slices.Clone(der),
				Seed: slices.Clone(seeds[string(pk)]),
				Msg:  unhex(t, w, c.Msg), Sig: unhex(t, w, c.Sig),
			})
		}
	}
	return out
}

// Ed25519Key is an Ed25519 key pair published with its private key.
type Ed25519Key struct {
	// Seed is the 32-byte private key; PublicKey the 32-byte public key.
	Seed, PublicKey []byte
	// Source names the document.
	Source string
}

// Ed25519RFC8032 returns the keys of testdata/ed25519_rfc8032.txt.
func Ed25519RFC8032(t TB) []Ed25519Key {
	t.Helper()
	const name = "ed25519_rfc8032.txt"
	var out []Ed25519Key
	for n, l := range lines(readFile(t, name)) {
		where := fmt.Sprintf("%s:%d", name, n+1)
		if l = strings.TrimSpace(l); l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.SplitN(l, " ", 3)
		if len(f) != 3 {
			t.Fatalf("vectors: %s: want SEED PUBLIC SOURCE", where)
		}
		k := Ed25519Key{Seed: unhex(t, where, f[0]), PublicKey: unhex(t, where, f[1]), Source: f[2]}
		if len(k.Seed) != 32 || len(k.PublicKey) != 32 {
			t.Fatalf("vectors: %s: seed and public key must be 32 bytes", where)
		}
		checkEd25519Pair(t, where, k)
		out = append(out, k)
	}
	return out
}

// ECDSAVector is a Wycheproof ECDSA verification case with IEEE P1363
// (r‖s) signatures (ecdsa_*_p1363_test.json).
type ECDSAVector struct {
	Case
	// Alg is the contract's name ("ES256"), Curve its curve ("P-256") and
	// Hash its hash ("SHA-256").
	Alg, Curve, Hash string
	// PublicKey is the group's public key as an uncompressed SEC1 point;
	// PublicKeyDER as SubjectPublicKeyInfo.
	PublicKey, PublicKeyDER []byte
	// Msg is the message and Sig the r‖s signature to verify (of any
	// length: wrong lengths are invalid cases).
	Msg, Sig []byte
}

// ECDSAP1363 returns the cases of the P-256/SHA-256 and P-384/SHA-384 P1363
// files.
func ECDSAP1363(t TB) []ECDSAVector {
	t.Helper()
	type test struct {
		wycheCase
		Msg, Sig string
	}
	type group struct {
		PublicKey struct {
			Curve        string
			Uncompressed string
		}
		PublicKeyDER string
		SHA          string
		Tests        []test
	}
	var out []ECDSAVector
	for _, f := range []struct{ file, alg, curve, wcurve, hash string }{
		{"ecdsa_secp256r1_sha256_p1363_test.json", "ES256", "P-256", "secp256r1", "SHA-256"},
		{"ecdsa_secp384r1_sha384_p1363_test.json", "ES384", "P-384", "secp384r1", "SHA-384"},
	} {
		for _, g := range loadWycheproof[group](t, f.file) {
			if g.PublicKey.Curve != f.wcurve || g.SHA != f.hash {
				t.Fatalf("vectors: %s: unexpected group curve %q hash %q", f.file, g.PublicKey.Curve, g.SHA)
			}
			pub := unhex(t, f.file, g.PublicKey.Uncompressed)
			der := unhex(t, f.file, g.PublicKeyDER)
			for _, c := range g.Tests {
				w := c.where(f.file)
				out = append(out, ECDSAVector{
					Case: c.toCase(f.file), Alg: f.alg, Curve: f.curve, Hash: f.hash,
					PublicKey: slices.Clone(pub), PublicKeyDER: slices.Clone(der),
					Msg: unhex(t, w, c.Msg), Sig: unhex(t, w, c.Sig),
				})
			}
		}
	}
	return out
}

// RSASigGenVector is a Wycheproof RSASSA-PKCS1-v1_5 signature generation
// case (rsa_pkcs1_2048_sig_gen_test.json). PKCS#1 v1.5 signing is
// deterministic, so Sig is the one right output.
type RSASigGenVector struct {
	Case
	// Alg is the contract's name ("RS256") when the hash is one of the
	// contract's (SHA-256/384/512), else "".
	Alg string
	// Hash is the hash ("SHA-1", "SHA-224", "SHA-256", …).
	Hash string
	// KeyBits is the modulus size.
	KeyBits int
	// PrivateKeyPKCS8 is the private key as PKCS#8 DER; PublicKeyDER the
	// public key as SubjectPublicKeyInfo.
	PrivateKeyPKCS8, PublicKeyDER []byte
	// Msg is the message and Sig the expected signature.
	Msg, Sig []byte
}

// RSASigGen returns the cases of rsa_pkcs1_2048_sig_gen_test.json.
func RSASigGen(t TB) []RSASigGenVector {
	t.Helper()
	type test struct {
		wycheCase
		Msg, Sig string
	}
	type group struct {
		KeySize         int
		SHA             string
		KeyDER          string
		PrivateKeyPkcs8 string
		Tests           []test
	}
	const file = "rsa_pkcs1_2048_sig_gen_test.json"
	var out []RSASigGenVector
	for _, g := range loadWycheproof[group](t, file) {
		priv := unhex(t, file, g.PrivateKeyPkcs8)
		pub := unhex(t, file, g.KeyDER)
		for _, c := range g.Tests {
			w := c.where(file)
			out = append(out, RSASigGenVector{
				Case: c.toCase(file), Alg: jwsName("RS", g.SHA), Hash: g.SHA, KeyBits: g.KeySize,
				PrivateKeyPKCS8: slices.Clone(priv), PublicKeyDER: slices.Clone(pub),
				Msg: unhex(t, w, c.Msg), Sig: unhex(t, w, c.Sig),
			})
		}
	}
	return out
}

// RSAPSSVector is a Wycheproof RSASSA-PSS verification case
// (rsa_pss_2048_sha256_mgf1_32_test.json).
type RSAPSSVector struct {
	Case
	// Alg is the contract's name ("PS256") when the parameters are the
	// contract's (MGF1 with the same hash, salt as long as the hash), else "".
	Alg string
	// Hash and MGFHash are the message and MGF1 hashes.
	Hash, MGFHash string
	// SaltLen is the salt length in bytes; KeyBits the modulus size.
	SaltLen, KeyBits int
	// PublicKeyDER is the public key as SubjectPublicKeyInfo.
	PublicKeyDER []byte
	// Msg is the message and Sig the signature to verify.
	Msg, Sig []byte
}

// RSAPSS returns the cases of rsa_pss_2048_sha256_mgf1_32_test.json.
func RSAPSS(t TB) []RSAPSSVector {
	t.Helper()
	type test struct {
		wycheCase
		Msg, Sig string
	}
	type group struct {
		KeySize      int
		SHA, MGF     string
		MGFSHA       string
		SLen         int
		PublicKeyDER string
		Tests        []test
	}
	const file = "rsa_pss_2048_sha256_mgf1_32_test.json"
	var out []RSAPSSVector
	for _, g := range loadWycheproof[group](t, file) {
		if g.MGF != "MGF1" {
			t.Fatalf("vectors: %s: unexpected MGF %q", file, g.MGF)
		}
		alg := jwsName("PS", g.SHA)
		if g.MGFSHA != g.SHA || g.SLen != hashSize(g.SHA) {
			alg = ""
		}
		pub := unhex(t, file, g.PublicKeyDER)
		for _, c := range g.Tests {
			w := c.where(file)
			out = append(out, RSAPSSVector{
				Case: c.toCase(file), Alg: alg, Hash: g.SHA, MGFHash: g.MGFSHA,
				SaltLen: g.SLen, KeyBits: g.KeySize, PublicKeyDER: slices.Clone(pub),
				Msg: unhex(t, w, c.Msg), Sig: unhex(t, w, c.Sig),
			})
		}
	}
	return out
}

// jwsName returns prefix+"256" etc. for the contract's hashes, else "".
func jwsName(prefix, hash string) string {
	switch hash {
	case "SHA-256", "SHA-384", "SHA-512":
		return prefix + strings.TrimPrefix(hash, "SHA-")
	}
	return ""
}

func hashSize(hash string) int {
	switch hash {
	case "SHA-256":
		return 32
	case "SHA-384":
		return 48
	case "SHA-512":
		return 64
	}
	return 0
}
