// Package softhsmtest gives tests a real PKCS#11 token: a SoftHSM2 token
// made for the test process in a temporary directory, and, on demand, the
// same token reached through p11-kit's remoting (`p11-kit server` in front of
// SoftHSM2, p11-kit-client.so as the module).
//
// # Use
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		softhsmtest.Shutdown()
//		os.Exit(code)
//	}
//
//	func TestSomething(t *testing.T) {
//		fx := softhsmtest.Token(t)          // fx.Module, fx.Label, fx.PIN …
//		remote := fx.Remote(t)              // remote.Module, remote.Label
//		fx.PKCS11Tool(t, "--keypairgen", "--key-type", "EC:prime256v1", "--label", "k")
//	}
//
// # One token per process
//
// SoftHSM2 reads its configuration (the SOFTHSM2_CONF environment variable)
// once, at C_Initialize, and a PKCS#11 module is initialised once per
// process. So the first call of [Token] in a test binary creates the
// directory, writes softhsm2.conf, sets SOFTHSM2_CONF in the process
// environment and initialises the token "wasihsm-test" with a user PIN and
// an SO PIN drawn at random; every later call returns the same token. Call
// Token before anything in the process loads SoftHSM2.
//
// Programs that a test runs are other processes: [Fixture.Separate] makes a
// token of their own, with its own softhsm2.conf, for programs that must not
// share the process's token (programs that log in while others use it: see
// Separate).
//
// [Fixture.Remote] likewise starts one `p11-kit server` per process and sets
// P11_KIT_SERVER_ADDRESS, which p11-kit-client.so reads when it is
// initialised.
//
// # Cleaning up
//
// The directory and the server belong to the process, not to a test, so no
// t.Cleanup removes them: call [Shutdown] from TestMain after m.Run. Without
// it the temporary directory stays behind; the server is still stopped on
// Linux when the test binary exits (it is started with a parent-death
// signal).
//
// # Missing tools
//
// When softhsm2-util, the SoftHSM2 module, pkcs11-tool, p11-kit or
// p11-kit-client.so is missing, the test is skipped with the reason, unless
// the environment has CI=true: then it fails, so that CI never passes by
// skipping.
package softhsmtest

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TokenLabel is the label of the token that [Token] makes.
const TokenLabel = "wasihsm-test"

// Fixture is the process's SoftHSM2 token.
type Fixture struct {
	// Module is the path of the SoftHSM2 PKCS#11 module.
	Module string
	// Label is the token's label (TokenLabel).
	Label string
	// PIN is the token's user PIN, random for each test process.
	PIN string
	// SOPIN is the token's security officer PIN.
	SOPIN string
	// Serial is the token's serial number as the module reports it.
	Serial string
	// ConfPath is the softhsm2.conf that SOFTHSM2_CONF names.
	ConfPath string
	// Dir is the temporary directory that holds the configuration and the
	// token files.
	Dir string
	// TokenDir is the directories.tokendir of ConfPath, under Dir.
	TokenDir string
}

// RemoteFixture is the process's token reached through p11-kit remoting.
type RemoteFixture struct {
	// Module is the path of p11-kit-client.so.
	Module string
	// Label is the token's label as the client module shows it.
	Label string
	// Socket is the path of the server's Unix socket.
	Socket string
	// Address is the value given to P11_KIT_SERVER_ADDRESS.
	Address string

	fx     *Fixture
	p11kit string
}

// The process-wide state: one token and one server per test binary (see the
// package documentation).
var (
	tokenOnce sync.Once
	token     *Fixture
	tokenErr  error
	tokenSkip string

	remoteOnce sync.Once
	remote     *RemoteFixture
	remoteErr  error
	remoteSkip string

	stateMu sync.Mutex
	server  *exec.Cmd
	done    chan struct{} // closed when the server has exited
)

// moduleCandidates are where distributions put libsofthsm2.so.
var moduleCandidates = []string{
	"/usr/lib/softhsm/libsofthsm2.so",
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib64/pkcs11/libsofthsm2.so",
	"/usr/lib/pkcs11/libsofthsm2.so",
	"/usr/local/lib/softhsm/libsofthsm2.so",
	"/opt/homebrew/lib/softhsm/libsofthsm2.so",
}

// clientCandidates are where distributions put p11-kit-client.so, when
// pkg-config does not say.
var clientCandidates = []string{
	"/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so",
	"/usr/lib/aarch64-linux-gnu/pkcs11/p11-kit-client.so",
	"/usr/lib64/pkcs11/p11-kit-client.so",
	"/usr/lib/pkcs11/p11-kit-client.so",
	"/usr/local/lib/pkcs11/p11-kit-client.so",
}

// unavailable skips the test for a missing tool, or fails it under CI.
func unavailable(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("softhsmtest: %s (CI=true: tests that need it must not skip)", reason)
	}
	t.Skipf("softhsmtest: %s", reason)
}

// Token returns the process's SoftHSM2 token, creating it on the first
// call. It skips the test (fails it with CI=true) when SoftHSM2 is not
// installed.
func Token(t testing.TB) *Fixture {
	t.Helper()
	tokenOnce.Do(func() { token, tokenSkip, tokenErr = setupToken() })
	switch {
	case tokenSkip != "":
		unavailable(t, tokenSkip)
	case tokenErr != nil:
		t.Fatalf("softhsmtest: %v", tokenErr)
	}
	f := *token
	return &f
}

// setupToken makes the process's token and names its configuration in
// SOFTHSM2_CONF. It answers a skip reason for a missing tool and an error
// for a failure.
func setupToken() (*Fixture, string, error) {
	util, err := exec.LookPath("softhsm2-util")
	if err != nil {
		return nil, "softhsm2-util not found (install softhsm2)", nil
	}
	module := firstExisting(moduleCandidates)
	if env := os.Getenv("SOFTHSM2_MODULE"); env != "" {
		module = env
	}
	if module == "" {
		return nil, "libsofthsm2.so not found (install softhsm2, or set SOFTHSM2_MODULE)", nil
	}
	dir, err := os.MkdirTemp("", "softhsmtest-")
	if err != nil {
		return nil, "", err
	}
	f, err := makeToken(util, module, dir)
	if err != nil {
		return nil, "", err
	}
	// Before anything in this process initialises SoftHSM2: it reads the
	// variable at C_Initialize, once.
	if err := os.Setenv("SOFTHSM2_CONF", f.ConfPath); err != nil {
		return nil, "", err
	}
	return f, "", nil
}

// makeToken makes a SoftHSM2 token of its own in dir, which must exist:
// the configuration dir/softhsm2.conf, the token files under dir/tokens,
// and the token "wasihsm-test" with PINs drawn at random.
func makeToken(util, module, dir string) (*Fixture, error) {
	return makeTokenPIN(util, module, dir, randomPIN())
}

// makeTokenPIN is makeToken with the user PIN pin.
func makeTokenPIN(util, module, dir, pin string) (*Fixture, error) {
	f := &Fixture{
		Module:   module,
		Label:    TokenLabel,
		PIN:      pin,
		SOPIN:    randomPIN(),
		ConfPath: filepath.Join(dir, "softhsm2.conf"),
		Dir:      dir,
		TokenDir: filepath.Join(dir, "tokens"),
	}
	tokens := f.TokenDir
	if err := os.Mkdir(tokens, 0o700); err != nil {
		return nil, err
	}
	conf := fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n", tokens)
	if err := os.WriteFile(f.ConfPath, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	if _, err := run(f, util, "--init-token", "--free", "--label", f.Label, "--pin", f.PIN, "--so-pin", f.SOPIN); err != nil {
		return nil, fmt.Errorf("initialise the token: %w", err)
	}
	slots, err := run(f, util, "--show-slots")
	if err != nil {
		return nil, fmt.Errorf("list the slots: %w", err)
	}
	if f.Serial = serialOf(slots, f.Label); f.Serial == "" {
		return nil, fmt.Errorf("no serial number for the token %q in softhsm2-util --show-slots", f.Label)
	}
	return f, nil
}

// Separate makes another SoftHSM2 token, like the process's but with files,
// a configuration and PINs of its own, in dir (made if missing; it must not
// hold a token already). It is for the programs a test runs, which find it
// by its ConfPath in their SOFTHSM2_CONF: the process's SOFTHSM2_CONF still
// names the process's token, and nothing in the process can load this one
// (one token per process, above). Removing dir removes the token.
//
// Give each program that logs in a token of its own when several may run
// at once. Every C_Login, C_InitPIN and C_SetPIN rewrites the
// token's token.object, and SoftHSM2 2.6.1 releases the file's lock before
// the new contents leave the writer's stdio buffer: a process that reads the
// file in that window finds it empty, and lists the slot without the token
// (or fails C_GetTokenInfo).
//
// Call [Fixture.Remote] on the process's fixture only: there is one p11-kit
// server per process, and it serves the process's token.
func (f *Fixture) Separate(dir string) (*Fixture, error) {
	util, err := exec.LookPath("softhsm2-util")
	if err != nil {
		return nil, fmt.Errorf("separate token: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("separate token: %w", err)
	}
	g, err := makeToken(util, f.Module, dir)
	if err != nil {
		return nil, fmt.Errorf("separate token in %s: %w", dir, err)
	}
	return g, nil
}

// serialOf finds the serial number of the token labelled label in the
// output of softhsm2-util --show-slots, where a token's "Serial number" line
// comes before its "Label" line.
func serialOf(showSlots, label string) string {
	var serial string
	sc := bufio.NewScanner(strings.NewReader(showSlots))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "Slot":
			serial = ""
		case "Serial number":
			serial = strings.TrimSpace(v)
		case "Label":
			if strings.TrimSpace(v) == label {
				return serial
			}
		}
	}
	return ""
}

func randomPIN() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func firstExisting(paths []string) string {
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}

// run runs a command with the fixture's configuration and returns its
// combined output. Errors show the output with the PINs blanked out.
func run(f *Fixture, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+f.ConfPath)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w\n%s", filepath.Base(name), f.redact(strings.Join(args, " ")), err, f.redact(string(out)))
	}
	return string(out), nil
}

// redact blanks the fixture's PINs out of s.
func (f *Fixture) redact(s string) string {
	for _, pin := range []string{f.PIN, f.SOPIN} {
		if pin != "" {
			s = strings.ReplaceAll(s, pin, "<PIN>")
		}
	}
	return s
}

// PKCS11Tool runs OpenSC's pkcs11-tool on the token, logged in as the user
// (--module, --token-label, --login and --pin come first, then args), and
// returns its output. It is for provisioning: for example
//
//	fx.PKCS11Tool(t, "--keypairgen", "--key-type", "EC:prime256v1", "--label", "k", "--id", "01")
//	fx.PKCS11Tool(t, "--write-object", "key.der", "--type", "privkey", "--label", "k", "--id", "02")
//
// Objects it makes are token objects: they outlive the test, so use labels
// that no other test uses. The test fails when the tool does.
func (f *Fixture) PKCS11Tool(t testing.TB, args ...string) string {
	t.Helper()
	tool, err := exec.LookPath("pkcs11-tool")
	if err != nil {
		unavailable(t, "pkcs11-tool not found (install opensc)")
	}
	full := append([]string{"--module", f.Module, "--token-label", f.Label, "--login", "--pin", f.PIN}, args...)
	out, err := run(f, tool, full...)
	if err != nil {
		t.Fatalf("softhsmtest: %v", err)
	}
	return out
}

// Remote returns the process's token reached through p11-kit remoting,
// starting `p11-kit server` on the first call and setting
// P11_KIT_SERVER_ADDRESS in the process environment. Call it before
// anything in the process loads p11-kit-client.so. It skips the test (fails
// it with CI=true) when p11-kit or its client module is missing.
func (f *Fixture) Remote(t testing.TB) *RemoteFixture {
	t.Helper()
	remoteOnce.Do(func() { remote, remoteSkip, remoteErr = startRemote(f) })
	switch {
	case remoteSkip != "":
		unavailable(t, remoteSkip)
	case remoteErr != nil:
		t.Fatalf("softhsmtest: %v", remoteErr)
	}
	r := *remote
	return &r
}

// clientModule finds p11-kit-client.so: in the directory that p11-kit's
// pkg-config file names, else in the usual places.
func clientModule() string {
	if out, err := exec.Command("pkg-config", "--variable=p11_module_path", "p11-kit-1").Output(); err == nil {
		if dir := strings.TrimSpace(string(out)); dir != "" {
			if p := firstExisting([]string{filepath.Join(dir, "p11-kit-client.so")}); p != "" {
				return p
			}
		}
	}
	return firstExisting(clientCandidates)
}

func startRemote(f *Fixture) (*RemoteFixture, string, error) {
	p11kit, err := exec.LookPath("p11-kit")
	if err != nil {
		return nil, "p11-kit not found (install p11-kit)", nil
	}
	client := clientModule()
	if client == "" {
		return nil, "p11-kit-client.so not found (install p11-kit-modules)", nil
	}
	socket := filepath.Join(f.Dir, "p11-kit.sock")
	if err := launchServer(f, p11kit, socket); err != nil {
		return nil, "", err
	}
	addr := "unix:path=" + socket
	if err := os.Setenv("P11_KIT_SERVER_ADDRESS", addr); err != nil {
		return nil, "", err
	}
	return &RemoteFixture{Module: client, Label: f.Label, Socket: socket, Address: addr, fx: f, p11kit: p11kit}, "", nil
}

// launchServer starts `p11-kit server` for f's token on socket, records it
// as the process's server and waits for its socket.
func launchServer(f *Fixture, p11kit, socket string) error {
	cmd, exited, err := spawnServer(f, p11kit, socket)
	if err != nil {
		return err
	}
	stateMu.Lock()
	server, done = cmd, exited
	stateMu.Unlock()
	return nil
}

// spawnServer starts `p11-kit server` for f's token on socket and waits
// for its socket; exited is closed when the server has exited.
func spawnServer(f *Fixture, p11kit, socket string) (cmd *exec.Cmd, exited chan struct{}, err error) {
	// A socket left by a server that was killed would make the new one
	// fail to bind.
	_ = os.Remove(socket)
	cmd = exec.Command(p11kit, "server", "--provider", f.Module, "-f", "-n", socket, "pkcs11:token="+uriEscape(f.Label))
	cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+f.ConfPath)
	// A file, not a pipe: the server's children (one p11-kit-remote per
	// connection) inherit its output, and a pipe they hold open would keep
	// cmd.Wait waiting after the server itself has gone.
	logPath := filepath.Join(f.Dir, "p11-kit-server.log")
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, err
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	setProcessAttributes(cmd)
	exited = make(chan struct{})
	if err := startLocked(cmd, exited); err != nil {
		return nil, nil, fmt.Errorf("start p11-kit server: %w", err)
	}

	deadline := time.Now().Add(10 * time.Second)
	for {
		if st, err := os.Stat(socket); err == nil && st.Mode()&os.ModeSocket != 0 {
			return cmd, exited, nil
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(logPath)
			return nil, nil, fmt.Errorf("p11-kit server exited: %s", f.redact(string(log)))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			terminate(cmd)
			<-exited
			return nil, nil, errors.New("p11-kit server: no socket after 10s")
		}
	}
}

// uriEscape percent-encodes s for a PKCS#11 URI path attribute (RFC 7512):
// everything but unreserved characters.
func uriEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// stopServer stops the p11-kit server, if one runs, and waits for it.
func stopServer() {
	stateMu.Lock()
	cmd, exited := server, done
	server, done = nil, nil
	stateMu.Unlock()
	if cmd == nil {
		return
	}
	terminate(cmd)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// Shutdown stops the p11-kit servers (the process's token's and the
// group's, see Group), removes the group's module files and removes the
// tokens' directories. Call
// it from TestMain once the tests have run; the fixtures are unusable
// afterwards. It does nothing when no fixture was made.
func Shutdown() {
	stopServer()
	shutdownGroup()
	if token != nil {
		_ = os.RemoveAll(token.Dir)
	}
}

// Replicas returns the process's token and n-1 more tokens beside it, in
// the same SoftHSM2 configuration (so one module serves them all, as
// p11-kit-proxy serves several), with the same label and PINs and serials
// of their own: replicas, as a token group has them. The first call makes
// them; SoftHSM2 finds its tokens at C_Initialize, so call it before
// anything in the process loads SoftHSM2. Later calls must ask for the
// same n.
func Replicas(t testing.TB, n int) []*Fixture {
	t.Helper()
	fx := Token(t)
	replicasOnce.Do(func() {
		util, err := exec.LookPath("softhsm2-util")
		if err != nil {
			replicasErr = err
			return
		}
		replicas = []*Fixture{fx}
		for i := 1; i < n; i++ {
			before, err := run(fx, util, "--show-slots")
			if err != nil {
				replicasErr = err
				return
			}
			if _, err := run(fx, util, "--init-token", "--free", "--label", fx.Label, "--pin", fx.PIN, "--so-pin", fx.SOPIN); err != nil {
				replicasErr = fmt.Errorf("initialise replica %d: %w", i, err)
				return
			}
			after, err := run(fx, util, "--show-slots")
			if err != nil {
				replicasErr = err
				return
			}
			r := *fx
			if r.Serial = newSerial(before, after); r.Serial == "" {
				replicasErr = fmt.Errorf("replica %d: no new serial in softhsm2-util --show-slots", i)
				return
			}
			replicas = append(replicas, &r)
		}
	})
	if replicasErr != nil {
		t.Fatalf("softhsmtest: replicas: %v", replicasErr)
	}
	if len(replicas) != n {
		t.Fatalf("softhsmtest: replicas: made %d, asked for %d", len(replicas), n)
	}
	out := make([]*Fixture, n)
	for i, r := range replicas {
		c := *r
		out[i] = &c
	}
	return out
}

var (
	replicasOnce sync.Once
	replicas     []*Fixture
	replicasErr  error
)

// newSerial returns the serial number in the --show-slots output after
// that is not in before.
func newSerial(before, after string) string {
	seen := map[string]bool{}
	for _, s := range serials(before) {
		seen[s] = true
	}
	for _, s := range serials(after) {
		if !seen[s] {
			return s
		}
	}
	return ""
}

func serials(showSlots string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(showSlots))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "Serial number" {
			if s := strings.TrimSpace(v); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}
