package tokentest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Token is one of the process's tokens, with what wasihsm's configuration
// needs to reach it.
type Token struct {
	// Name is the token's column name: "opencryptoki", "tpm2-pkcs11" or
	// "nss".
	Name string
	// Module is the path of the PKCS#11 module.
	Module string
	// Label is the token's label (select the token by it).
	Label string
	// Serial is the token's serial number as the module reports it.
	Serial string
	// PIN is the token's user PIN; empty where the token needs no login
	// (NSS with an empty password).
	PIN string
	// SOPIN is the token's security officer PIN, empty where there is
	// none.
	SOPIN string
	// InitArgs is the string the module needs as
	// CK_C_INITIALIZE_ARGS.pReserved (configuration pkcs11.init_args);
	// empty for modules that take none.
	InitArgs string
	// Env holds the KEY=VALUE environment variables the module reads at
	// C_Initialize. They are set in the test process already; give them to
	// programs a test runs (wasihsm as a subprocess).
	Env []string
	// Version names the implementation and its version, for example
	// "openCryptoki 3.8.1".
	Version string
	// Dir is the temporary directory that holds the token's files.
	Dir string
}

// Names of the fixtures, as [All] and [Token.Name] give them.
const (
	NameOpenCryptoki = "opencryptoki"
	NameTPM2         = "tpm2-pkcs11"
	NameNSS          = "nss"
)

// fixture is the process-wide state of one kind of token.
type fixture struct {
	once  sync.Once
	tok   *Token
	skip  string
	err   error
	setup func() (*Token, string, error)
}

func (f *fixture) get(t testing.TB) *Token {
	t.Helper()
	f.once.Do(func() { f.tok, f.skip, f.err = f.setup() })
	switch {
	case f.skip != "":
		unavailable(t, f.skip)
	case f.err != nil:
		t.Fatalf("tokentest: %v", f.err)
	}
	tok := *f.tok
	tok.Env = append([]string(nil), f.tok.Env...)
	return &tok
}

var (
	ockFixture  = &fixture{setup: setupOpenCryptoki}
	tpm2Fixture = &fixture{setup: setupTPM2}
	nssFixture  = &fixture{setup: setupNSS}
)

// OpenCryptoki returns the process's openCryptoki soft token, setting it
// up on the first call (see the package documentation for the host state
// it takes over until [Shutdown]).
func OpenCryptoki(t testing.TB) *Token { t.Helper(); return ockFixture.get(t) }

// TPM2 returns the process's tpm2-pkcs11 token on a software TPM, setting
// it up on the first call.
func TPM2(t testing.TB) *Token { t.Helper(); return tpm2Fixture.get(t) }

// NSS returns the process's NSS softokn database token, setting it up on
// the first call.
func NSS(t testing.TB) *Token { t.Helper(); return nssFixture.get(t) }

// All lists the fixtures by name, in the order of the conformance matrix.
var All = []struct {
	Name  string
	Token func(testing.TB) *Token
}{
	{NameOpenCryptoki, OpenCryptoki},
	{NameTPM2, TPM2},
	{NameNSS, NSS},
}

// ByName returns the fixture function named name ([Token.Name]), or nil.
func ByName(name string) func(testing.TB) *Token {
	for _, f := range All {
		if f.Name == name {
			return f.Token
		}
	}
	return nil
}

// Shutdown stops what the fixtures started, removes their directories and
// puts back the host state they changed. Call it from TestMain once the
// tests have run, or from the cleanup of a test where TestMain cannot
// (testscript.Main exits). The tokens it stopped are unusable afterwards
// (their modules may still be loaded in the process: finalise them first
// where that matters); a later call of a fixture's function sets up a new
// token.
func Shutdown() {
	for _, f := range []*fixture{tpm2Fixture, nssFixture} {
		if f.tok != nil {
			stopChildren(f.tok.Name)
			_ = os.RemoveAll(f.tok.Dir)
		}
	}
	if restoreTPM2Env != nil {
		restoreTPM2Env()
		restoreTPM2Env = nil
	}
	shutdownOpenCryptoki()
	for _, f := range []*fixture{ockFixture, tpm2Fixture, nssFixture} {
		f.reset()
	}
}

// reset forgets the fixture's token, so that the next get sets one up.
func (f *fixture) reset() {
	f.once = sync.Once{}
	f.tok, f.skip, f.err = nil, "", nil
}

// restoreTPM2Env puts back the environment variables the TPM2 fixture set.
var restoreTPM2Env func()

// unavailable skips the test for a missing tool, or fails it under CI.
func unavailable(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("tokentest: %s (CI=true: tests that need it must not skip)", reason)
	}
	t.Skipf("tokentest: %s", reason)
}

// missing returns a skip reason naming the first of the tools or files
// that is missing, with the package that provides it, or "".
func missing(needs [][2]string) string {
	for _, n := range needs {
		what, pkg := n[0], n[1]
		if filepath.IsAbs(what) {
			if _, err := os.Stat(what); err != nil {
				return fmt.Sprintf("%s not found (install %s)", what, pkg)
			}
			continue
		}
		if _, err := exec.LookPath(what); err != nil {
			return fmt.Sprintf("%s not found (install %s)", what, pkg)
		}
	}
	return ""
}

// packageVersion names an implementation with the version of the Debian
// package that ships it, or the bare name when dpkg does not know it.
func packageVersion(name, pkg string) string {
	out, err := exec.Command("dpkg-query", "-W", "-f", "${Version}", pkg).Output()
	if err != nil || len(out) == 0 {
		return name
	}
	v := string(out)
	if _, after, ok := strings.Cut(v, ":"); ok { // epoch
		v = after
	}
	v, _, _ = strings.Cut(v, "-") // Debian revision
	v, _, _ = strings.Cut(v, "+") // repack suffix
	return name + " " + v
}

// run runs a command with extra environment variables and returns its
// combined output; the error shows the output with secrets blanked.
func run(env []string, secrets []string, stdin string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w\n%s", filepath.Base(name), redact(strings.Join(args, " "), secrets), err, redact(string(out), secrets))
	}
	return string(out), nil
}

func redact(s string, secrets []string) string {
	for _, x := range secrets {
		if x != "" {
			s = strings.ReplaceAll(s, x, "<PIN>")
		}
	}
	return s
}

// setenv sets the variables of env (KEY=VALUE) in the process, keeping
// the previous values for restoreEnv.
func setenv(env []string) (restore func(), err error) {
	type old struct {
		key, val string
		set      bool
	}
	var olds []old
	restore = func() {
		for i := len(olds) - 1; i >= 0; i-- {
			o := olds[i]
			if o.set {
				_ = os.Setenv(o.key, o.val)
			} else {
				_ = os.Unsetenv(o.key)
			}
		}
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		prev, ok := os.LookupEnv(k)
		olds = append(olds, old{k, prev, ok})
		if err := os.Setenv(k, v); err != nil {
			restore()
			return nil, err
		}
	}
	return restore, nil
}
