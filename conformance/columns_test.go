//go:build cgo && linux

package conformance_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/conformance/suite"
	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/internal/testguest"
	"github.com/wasihsm/wasihsm/internal/tokentest"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/softfallback"
)

// The token columns of the matrix run in test processes of their own, one
// per token: a PKCS#11 module is initialised once per process with the
// environment it reads then, openCryptoki's fixture holds a host-wide lock
// for as long as its process lives, and a module that crashes takes only
// its own column down. TestMatrix starts the test binary again with
// columnEnv naming the token (tokentest's fixture name) and outEnv a file
// for the results, and TestMatrixColumn, in that process, sets the token
// up, runs the suite under fallback allow and deny, and writes them there.
const (
	columnEnv = "WASIHSM_MATRIX_COLUMN"
	outEnv    = "WASIHSM_MATRIX_OUT"
)

// columnOutput is what a column's process hands back.
type columnOutput struct {
	// Version names the token's implementation and version.
	Version string `json:"version"`
	// Results are the fallback allow and the fallback deny column.
	Results []*suite.Result `json:"results"`
	// Problems are what the process found wrong besides the cells: objects
	// left on the token.
	Problems []string `json:"problems,omitempty"`
}

// tokenLacks are what each token cannot serve, so that with fallback deny
// the matrix answers notsup for them (and only for them): the real
// limitations of the token, as docs/tokens.md lists them, found by running
// the token (tokentest's fixtures). An entry is an algorithm (every cell of
// it) or "ALGORITHM operation" (one cell).
var tokenLacks = map[string][]string{
	// No EC at all (no ECDSA, ECDH, EdDSA or X25519), no AES-GCM, no
	// SHA-224 or SHA-3. (RSA PKCS#1 v1.5 and HKDF it serves composed:
	// hash-and-sign with SHA-2 and HKDF through its HMAC.)
	tokentest.NameOpenCryptoki: {
		"SHA-224", "SHA3-224", "SHA3-256", "SHA3-384", "SHA3-512", "SHAKE128", "SHAKE256",
		"A128GCM", "A192GCM", "A256GCM",
		"ES256", "ES384", "ES512", "EdDSA", "X25519", "ECDH-P256", "ECDH-P384",
	},
	// No guest keys at all: key pairs only as token objects, and a
	// guest's keys are session objects (docs/semantics.md#token-only-tokens);
	// no key import; no C_GenerateKey. Probing finds each refused, so every
	// key algorithm is notsup under deny (managed keys, token objects, work
	// there). No SHA-224 or SHA-3.
	tokentest.NameTPM2: {
		"SHA-224", "SHA3-224", "SHA3-256", "SHA3-384", "SHA3-512", "SHAKE128", "SHAKE256",
		"A128GCM", "A192GCM", "A256GCM", "HS256", "HS384", "HS512",
		"ES256", "ES384", "ES512", "EdDSA", "X25519", "ECDH-P256", "ECDH-P384",
		"PS256", "PS384", "PS512", "RS256", "RS384", "RS512", "HKDF",
	},
	// The database token ("NSS Certificate DB") lists no digest mechanism
	// (the other slot, "NSS Generic Crypto Services", has them, and no
	// persistent objects), so no HKDF either: a guest names an HKDF key's
	// hash with a hash state. NSS 3.87 has no SHA-3, SHAKE, EdDSA or X25519.
	tokentest.NameNSS: {
		"SHA-1", "SHA-224", "SHA-256", "SHA-384", "SHA-512", "HKDF",
		"SHA3-224", "SHA3-256", "SHA3-384", "SHA3-512", "SHAKE128", "SHAKE256",
		"EdDSA", "X25519",
	},
}

// tokenColumns runs each token's columns in a process of its own and
// returns their results (two per token) and the tokens' versions.
func tokenColumns(t *testing.T) (results []*suite.Result, versions []string) {
	for _, fx := range tokentest.All {
		start := time.Now()
		out := filepath.Join(t.TempDir(), fx.Name+".json")
		cmd := exec.Command(os.Args[0], "-test.run=^TestMatrixColumn$", "-test.v", "-test.count=1", "-test.timeout=20m")
		cmd.Env = append(os.Environ(), columnEnv+"="+fx.Name, outEnv+"="+out)
		log, err := cmd.CombinedOutput()
		t.Logf("%s: %s", fx.Name, time.Since(start).Round(time.Millisecond))
		data, rerr := os.ReadFile(out)
		if rerr != nil {
			// No results: the token could not be set up (a skip without
			// CI=true), or the process failed before writing them.
			if err == nil && strings.Contains(string(log), "--- SKIP: TestMatrixColumn") && os.Getenv("CI") != "true" {
				t.Logf("%s column skipped:\n%s", fx.Name, tail(log))
				continue
			}
			t.Errorf("%s column: no results (%v):\n%s", fx.Name, err, tail(log))
			continue
		}
		var col columnOutput
		require.NoError(t, json.Unmarshal(data, &col), fx.Name)
		require.Len(t, col.Results, 2, fx.Name)
		for _, p := range col.Problems {
			t.Errorf("%s: %s", fx.Name, p)
		}
		if err != nil && !suite.Failed(col.Results) && len(col.Problems) == 0 {
			t.Errorf("%s column process failed: %v\n%s", fx.Name, err, tail(log))
		}
		gradeTokenColumns(t, fx.Name, col.Results)
		results = append(results, col.Results...)
		versions = append(versions, col.Version)
	}
	return results, versions
}

// gradeTokenColumns: under fallback allow every cell passes; under
// fallback deny no cell fails, and notsup comes exactly for the
// algorithms the token lacks (tokenLacks). Failed scenarios fail the
// matrix in TestMatrix.
func gradeTokenColumns(t *testing.T, name string, res []*suite.Result) {
	allow, deny := res[0], res[1]
	// A guest never sees io, access or inval for what the token cannot
	// do (docs/semantics.md#errors): under either policy, no check of any
	// cell or scenario got one of them where it wanted another answer.
	for _, r := range res {
		for _, c := range r.Cells {
			for _, f := range c.Failures {
				assert.NotRegexp(t, wrongErrno, f, "%s: %s %s", r.Target, c.Algorithm, c.Operation)
			}
		}
		for _, s := range r.Scenarios {
			assert.NotRegexp(t, wrongErrno, s.Detail, "%s: scenario %s", r.Target, s.Name)
		}
	}
	for _, c := range allow.Cells {
		assert.Equal(t, suite.Pass, c.Status, "%s: %s %s: %v", allow.Target, c.Algorithm, c.Operation, c.Failures)
	}
	lacks := tokenLacks[name]
	for _, c := range deny.Cells {
		want := suite.Pass
		if slices.Contains(lacks, c.Algorithm) || slices.Contains(lacks, c.Algorithm+" "+c.Operation) {
			want = suite.NotSup
		}
		assert.Equal(t, want, c.Status, "%s: %s %s: %v", deny.Target, c.Algorithm, c.Operation, c.Failures)
	}
	for _, s := range deny.Scenarios {
		if s.Status != suite.NotSup {
			continue
		}
		needs, _, _ := strings.Cut(strings.TrimPrefix(s.Detail, "needs "), ", which")
		for _, alg := range strings.Split(needs, ", ") {
			lacked := slices.ContainsFunc(lacks, func(l string) bool { return l == alg || strings.HasPrefix(l, alg+" ") })
			assert.True(t, lacked, "%s: scenario %s is notsup for an algorithm the token has: %s", deny.Target, s.Name, s.Detail)
		}
	}
}

// wrongErrno matches a check's failure that got io, access or inval, as
// the contract guest ("X = io, want notsup") and the matrix lines
// ("matrix ALG: io, want notsup") report it.
var wrongErrno = regexp.MustCompile(`(= |: )(io|access|inval), want `)

func tail(b []byte) string {
	const n = 6000
	if len(b) > n {
		return "…" + string(b[len(b)-n:])
	}
	return string(b)
}

// TestMatrixColumn is one token's columns of the matrix, in a process that
// TestMatrix starts (see columnEnv); run alone, it is skipped.
func TestMatrixColumn(t *testing.T) {
	name, out := os.Getenv(columnEnv), os.Getenv(outEnv)
	if name == "" || out == "" {
		t.Skip("run by TestMatrix, in a process of its own per token")
	}
	fixture := tokentest.ByName(name)
	require.NotNil(t, fixture, "no token fixture %q", name)
	tok := fixture(t)
	b := openTokenBackend(t, tok)
	before := countObjects(t, tok)
	software := softfallback.New()
	var col columnOutput
	col.Version = tok.Version
	for _, policy := range []provider.Policy{provider.FallbackAllow, provider.FallbackDeny} {
		tg := suite.Target{Name: fmt.Sprintf("%s fallback %s", tok.Name, policy), Primary: b, Fallback: software, Policy: policy}
		start := time.Now()
		res, err := suite.Run(context.Background(), tg, suite.Options{Cache: testguest.CompilationCache()})
		require.NoError(t, err, tg.Name)
		t.Logf("%s: %s", tg.Name, time.Since(start).Round(time.Millisecond))
		col.Results = append(col.Results, res)
	}
	if after := countObjects(t, tok); after != before {
		col.Problems = append(col.Problems, fmt.Sprintf("objects on the token: %v before the suite, %v after", before, after))
	}
	data, err := json.Marshal(col)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(out, data, 0o600))
}

// openTokenBackend opens tok with a deadline per call long enough for RSA
// key generation on a busy machine (a software TPM takes seconds).
func openTokenBackend(t *testing.T, tok *tokentest.Token) *hsm.Backend {
	cfg := hsm.Config{
		Module:      tok.Module,
		Token:       hsm.TokenSelector{Label: tok.Label},
		CallTimeout: 2 * time.Minute,
	}
	if tok.PIN != "" {
		pin := tok.PIN
		cfg.PIN = func() ([]byte, error) { return []byte(pin), nil }
	}
	if tok.InitArgs != "" {
		require.True(t, setInitArgs(&cfg, tok.InitArgs), "%s needs module init args (pkcs11.init_args), which this hsm.Config cannot take", tok.Name)
	}
	b, err := hsm.Open(context.Background(), cfg)
	require.NoError(t, err, "open %s", tok.Version)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// setInitArgs sets cfg's InitArgs field (the module's C_Initialize
// argument, configuration pkcs11.init_args) by name and reports whether
// hsm.Config has it. By name because the field and the matrix's token
// columns were built side by side; once both are in, this is a plain
// assignment.
func setInitArgs(cfg *hsm.Config, args string) bool {
	f := reflect.ValueOf(cfg).Elem().FieldByName("InitArgs")
	if !f.IsValid() || f.Kind() != reflect.String {
		return false
	}
	f.SetString(args)
	return true
}

// objectCount is how many objects of each kind a token holds.
type objectCount struct{ Token, Session int }

// countObjects counts the objects on tok through a session of the test's
// own (the module is the backend's, initialised already; session objects
// of the process are visible to all its sessions).
func countObjects(t *testing.T, tok *tokentest.Token) objectCount {
	p := pkcs11.New(tok.Module)
	require.NotNil(t, p)
	var opts []pkcs11.InitializeOption
	if tok.InitArgs != "" {
		args := append([]byte(tok.InitArgs), 0)
		opts = append(opts, pkcs11.InitializeWithReserved(unsafe.Pointer(&args[0])))
	}
	if err := p.Initialize(opts...); err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		t.Fatalf("count objects: initialise: %v", err)
	}
	slots, err := p.GetSlotList(true)
	require.NoError(t, err)
	for _, slot := range slots {
		ti, err := p.GetTokenInfo(slot)
		if err != nil || strings.TrimRight(ti.Label, " \x00") != tok.Label {
			continue
		}
		s, err := p.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION)
		require.NoError(t, err)
		defer p.CloseSession(s)
		if tok.PIN != "" {
			if err := p.Login(s, pkcs11.CKU_USER, tok.PIN); err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_USER_ALREADY_LOGGED_IN)) {
				t.Fatalf("count objects: login: %v", err)
			}
		}
		count := func(token bool) int {
			require.NoError(t, p.FindObjectsInit(s, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_TOKEN, token)}))
			defer p.FindObjectsFinal(s)
			n := 0
			for {
				objs, _, err := p.FindObjects(s, 100)
				require.NoError(t, err)
				if len(objs) == 0 {
					return n
				}
				n += len(objs)
			}
		}
		return objectCount{Token: count(true), Session: count(false)}
	}
	t.Fatalf("count objects: no token %q", tok.Label)
	return objectCount{}
}

// TestWrongErrno: the check of gradeTokenColumns catches io, access and
// inval as the guest and the matrix lines report them, and nothing else.
func TestWrongErrno(t *testing.T) {
	for line, want := range map[string]bool{
		"keys.go:41: generate ES256 = io, want notsup":        true,
		"errors.go:9: open managed key = access, want notsup": true,
		"matrix PS256: inval, want success":                   true,
		"sign.go:3: sign = notsup, want success":              false,
		"matrix ES256: notsup, want success":                  false,
		"bad input: import = inval":                           false,
	} {
		assert.Equal(t, want, wrongErrno.MatchString(line), line)
	}
}
