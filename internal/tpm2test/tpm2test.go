// Package tpm2test gives tests a real tpm2-pkcs11 token: a software TPM
// (swtpm) behind the tpm2-abrmd resource manager on a private D-Bus
// session bus, with a tpm2-pkcs11 store and one token, all made for the
// test process under a temporary directory.
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		tpm2test.Shutdown()
//		os.Exit(code)
//	}
//
//	func TestSomething(t *testing.T) {
//		fx := tpm2test.Token(t) // fx.Module, fx.Label, fx.PIN
//	}
//
// tpm2-pkcs11 reads its store and transport (TPM2_PKCS11_STORE,
// TPM2_PKCS11_TCTI, DBUS_SESSION_BUS_ADDRESS) from the environment at
// C_Initialize, and a module is initialised once per process, so the first
// call of [Token] sets them in the process environment and makes the
// token; later calls return the same one. [Shutdown] stops the daemons
// and removes the directory; the daemons also get a parent-death signal.
//
// When swtpm, tpm2-abrmd, dbus-daemon, tpm2_ptool or the module is
// missing, the test is skipped with the reason, unless CI=true: then it
// fails, so that CI never passes by skipping.
package tpm2test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Module is where Debian 12 installs tpm2-pkcs11.
const Module = "/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so"

// TokenLabel is the label of the token that [Token] makes.
const TokenLabel = "wasihsm-tpm2"

// Fixture is the process's tpm2-pkcs11 token.
type Fixture struct {
	// Module is the path of the tpm2-pkcs11 module.
	Module string
	// Label is the token's label (TokenLabel).
	Label string
	// PIN is the token's user PIN, random for each test process.
	PIN string
	// Env is what a program needs in its environment to reach the token
	// (NAME=value), for tests that run one.
	Env []string
}

var state struct {
	mu    sync.Mutex
	fx    *Fixture
	err   error
	dir   string
	procs []*exec.Cmd
}

// Token returns the process's token, making it on the first call. It
// skips the test (fails it with CI=true) when a tool is missing.
func Token(t testing.TB) Fixture {
	t.Helper()
	for _, tool := range []string{"swtpm", "tpm2-abrmd", "dbus-daemon", "tpm2_ptool"} {
		if _, err := exec.LookPath(tool); err != nil {
			unavailable(t, tool+" is not installed")
		}
	}
	if _, err := os.Stat(Module); err != nil {
		unavailable(t, "the tpm2-pkcs11 module is not installed: "+err.Error())
	}
	state.mu.Lock()
	defer state.mu.Unlock()
	if state.fx == nil && state.err == nil {
		state.fx, state.err = start()
		if state.err != nil {
			stopLocked()
		}
	}
	if state.err != nil {
		t.Fatalf("tpm2test: %v", state.err)
	}
	return *state.fx
}

func unavailable(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("tpm2test: %s (CI=true: tests that need it must not skip)", reason)
	}
	t.Skipf("tpm2test: %s", reason)
}

// start brings the stack up, as the set-up of tpm2-pkcs11 on a headless
// machine goes: swtpm on two local TCP ports, a private session bus,
// tpm2-abrmd on it (without a resource manager the TPM runs out of
// object memory after a few processes), the store and the token.
func start() (*Fixture, error) {
	dir, err := os.MkdirTemp("", "wasihsm-tpm2-")
	if err != nil {
		return nil, err
	}
	state.dir = dir
	for _, d := range []string{"state", "store"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	server, ctrl, err := freePorts()
	if err != nil {
		return nil, err
	}
	if err := spawn("swtpm", "socket", "--tpm2", "--tpmstate", "dir="+filepath.Join(dir, "state"),
		"--server", "type=tcp,bindaddr=127.0.0.1,port="+strconv.Itoa(server),
		"--ctrl", "type=tcp,bindaddr=127.0.0.1,port="+strconv.Itoa(ctrl),
		"--flags", "not-need-init,startup-clear"); err != nil {
		return nil, err
	}
	if err := waitFor(func() bool {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(server))
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	}); err != nil {
		return nil, fmt.Errorf("swtpm does not listen: %w", err)
	}
	bus := filepath.Join(dir, "bus")
	if err := spawn("dbus-daemon", "--session", "--nofork", "--nopidfile", "--address=unix:path="+bus); err != nil {
		return nil, err
	}
	if err := waitFor(func() bool { _, err := os.Stat(bus); return err == nil }); err != nil {
		return nil, fmt.Errorf("dbus-daemon: no socket: %w", err)
	}
	env := map[string]string{
		"DBUS_SESSION_BUS_ADDRESS": "unix:path=" + bus,
		"TPM2_PKCS11_TCTI":         "tabrmd:bus_type=session",
		"TPM2TOOLS_TCTI":           "tabrmd:bus_type=session",
		"TPM2_PKCS11_STORE":        filepath.Join(dir, "store"),
		// The module logs every refused call on stderr otherwise.
		"TPM2_PKCS11_LOG_LEVEL": "0",
	}
	for k, v := range env {
		if err := os.Setenv(k, v); err != nil {
			return nil, err
		}
	}
	abrmd := []string{"--session", "--flush-all", "--tcti=swtpm:host=127.0.0.1,port=" + strconv.Itoa(server)}
	if os.Geteuid() == 0 {
		abrmd = append(abrmd, "--allow-root")
	}
	if err := spawn("tpm2-abrmd", abrmd...); err != nil {
		return nil, err
	}
	store := filepath.Join(dir, "store")
	// tpm2_ptool fails until tpm2-abrmd is on the bus.
	var out []byte
	if err := waitFor(func() bool {
		out, err = exec.Command("tpm2_ptool", "init", "--path", store).CombinedOutput()
		return err == nil
	}); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "tpm2-abrmd.log"))
		return nil, fmt.Errorf("tpm2_ptool init: %w: %s (tpm2-abrmd: %s)", err, out, log)
	}
	fx := &Fixture{Module: Module, Label: TokenLabel, PIN: randomDigits(8)}
	so := randomDigits(8)
	if out, err := exec.Command("tpm2_ptool", "addtoken", "--pid=1", "--label", fx.Label, "--sopin", so, "--userpin", fx.PIN, "--path", store).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("tpm2_ptool addtoken: %w: %s", err, out)
	}
	for k, v := range env {
		fx.Env = append(fx.Env, k+"="+v)
	}
	return fx, nil
}

// Shutdown stops the daemons and removes the directory. Call it from
// TestMain after m.Run.
func Shutdown() {
	state.mu.Lock()
	defer state.mu.Unlock()
	stopLocked()
}

func stopLocked() {
	for i := len(state.procs) - 1; i >= 0; i-- {
		p := state.procs[i]
		_ = p.Process.Kill()
	}
	state.procs = nil
	if state.dir != "" {
		_ = os.RemoveAll(state.dir)
		state.dir = ""
	}
}

// spawn starts a daemon of the fixture, tied to the test process.
func spawn(name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Env = os.Environ()
	if log, err := os.Create(filepath.Join(state.dir, name+".log")); err == nil {
		cmd.Stdout, cmd.Stderr = log, log
	}
	setProcessAttributes(cmd)
	// The parent-death signal is tied to the thread that starts the
	// daemon: a goroutine locked to its thread starts it and waits for it,
	// so that the thread lives as long as the daemon.
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	state.procs = append(state.procs, cmd)
	return nil
}

// waitFor polls ok for up to 20 s.
func waitFor(ok func() bool) error {
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after 20s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

// freePorts finds a free local TCP port whose successor is free too:
// the swtpm transport of the TSS reaches the control channel on the
// server's port + 1.
func freePorts() (int, int, error) {
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+1))
		_ = l.Close()
		if err == nil {
			_ = l2.Close()
			return port, port + 1, nil
		}
	}
	return 0, 0, fmt.Errorf("no two adjacent free ports")
}

func randomDigits(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	s := hex.EncodeToString(b)
	out := make([]byte, n)
	for i := range out {
		out[i] = '0' + s[i]%10
	}
	return string(out)
}
