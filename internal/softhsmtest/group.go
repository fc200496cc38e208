//go:build unix

package softhsmtest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Group is N SoftHSM2 tokens, each in a directory of its own and served by
// a `p11-kit server` of its own, reached through p11-kit-proxy.so: one
// module file per server (`remote: unix:path=SOCKET`) under
// /etc/pkcs11/modules while the test runs. The proxy lists each remote
// token as a slot of its own, with the same label ([TokenLabel]), the same
// PIN and different serials. It is a test's own, unlike the process's
// [Token]: [NewGroup] removes the servers, module files and directories
// when the test ends, failed or not.
//
// The proxy reads the module files at C_Initialize, and loads every module
// file it finds, other programs' too: select tokens by serial.
type Group struct {
	// Module is the path of p11-kit-proxy.so.
	Module string
	// Label is every token's label, and PIN every token's user PIN.
	Label, PIN string
	// Tokens are the group's tokens, in the order they were made.
	Tokens []*GroupToken

	p11kit string
}

// GroupToken is one token of a [Group] and its server.
type GroupToken struct {
	// Fixture is the token: its directory, configuration, serial.
	*Fixture
	// Socket is the server's Unix socket, and ModuleFile the proxy's
	// module file that names it.
	Socket, ModuleFile string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// proxyCandidates are where distributions put p11-kit-proxy.so.
var proxyCandidates = []string{
	"/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so",
	"/usr/lib/aarch64-linux-gnu/p11-kit-proxy.so",
	"/usr/lib64/p11-kit-proxy.so",
	"/usr/lib/p11-kit-proxy.so",
}

// moduleDir is where p11-kit-proxy looks for the system's module files.
const moduleDir = "/etc/pkcs11/modules"

// NewGroup makes a group of n tokens and starts their servers. It skips the
// test (fails it with CI=true) when a tool is missing, and fails it when
// /etc/pkcs11/modules cannot be written (the proxy has no other place to
// find remote modules).
func NewGroup(t testing.TB, n int) *Group {
	t.Helper()
	util, err := exec.LookPath("softhsm2-util")
	if err != nil {
		unavailable(t, "softhsm2-util not found (install softhsm2)")
	}
	module := firstExisting(moduleCandidates)
	if module == "" {
		unavailable(t, "libsofthsm2.so not found (install softhsm2)")
	}
	p11kit, err := exec.LookPath("p11-kit")
	if err != nil {
		unavailable(t, "p11-kit not found (install p11-kit)")
	}
	proxy := firstExisting(proxyCandidates)
	if proxy == "" {
		unavailable(t, "p11-kit-proxy.so not found (install p11-kit-modules)")
	}
	g := &Group{Module: proxy, Label: TokenLabel, PIN: randomPIN(), p11kit: p11kit}
	base := t.TempDir()
	made := !exists(moduleDir)
	if err := os.MkdirAll(moduleDir, 0o755); err != nil {
		t.Fatalf("softhsmtest: group: %v (the proxy finds remote tokens only there)", err)
	}
	id := make([]byte, 6)
	_, _ = rand.Read(id)
	unique := hex.EncodeToString(id)
	// Registered before anything starts: the servers and module files go
	// even when the set-up fails half-way.
	t.Cleanup(func() {
		for _, tok := range g.Tokens {
			tok.shutdown()
			_ = os.Remove(tok.ModuleFile)
		}
		if made {
			_ = os.Remove(moduleDir) // only when empty: others may use it
		}
	})
	for i := range n {
		dir := filepath.Join(base, fmt.Sprintf("token%d", i))
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		fx, err := makeTokenPIN(util, module, dir, g.PIN)
		if err != nil {
			t.Fatalf("softhsmtest: group token %d: %v", i, err)
		}
		tok := &GroupToken{
			Fixture:    fx,
			Socket:     filepath.Join(dir, "p11-kit.sock"),
			ModuleFile: filepath.Join(moduleDir, fmt.Sprintf("wasihsm-test-%s-%d.module", unique, i)),
		}
		g.Tokens = append(g.Tokens, tok)
		if err := tok.start(p11kit); err != nil {
			t.Fatalf("softhsmtest: group token %d: %v", i, err)
		}
		if err := os.WriteFile(tok.ModuleFile, []byte("remote: unix:path="+tok.Socket+"\n"), 0o644); err != nil {
			t.Fatalf("softhsmtest: group token %d: module file: %v", i, err)
		}
	}
	return g
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func (tok *GroupToken) start(p11kit string) error {
	cmd, exited, err := spawnServer(tok.Fixture, p11kit, tok.Socket)
	if err != nil {
		return err
	}
	tok.mu.Lock()
	tok.cmd, tok.exited = cmd, exited
	tok.mu.Unlock()
	return nil
}

// shutdown continues and terminates the server, if it runs.
func (tok *GroupToken) shutdown() {
	tok.mu.Lock()
	cmd, exited := tok.cmd, tok.exited
	tok.cmd, tok.exited = nil, nil
	tok.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = signalServer(cmd, syscall.SIGCONT)
	_ = signalServer(cmd, syscall.SIGKILL)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
	}
}

// Kill kills token i's server and the children that serve its connections
// with SIGKILL, as a token service that crashed whole, and waits for it.
func (g *Group) Kill(t testing.TB, i int) {
	t.Helper()
	tok := g.Tokens[i]
	tok.mu.Lock()
	cmd, exited := tok.cmd, tok.exited
	tok.cmd, tok.exited = nil, nil
	tok.mu.Unlock()
	if cmd == nil {
		t.Fatalf("softhsmtest: Kill: token %d has no server", i)
	}
	if err := signalServer(cmd, syscall.SIGKILL); err != nil {
		t.Fatalf("softhsmtest: kill server %d: %v", i, err)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("softhsmtest: server %d did not exit within 10s of SIGKILL", i)
	}
}

// Start starts token i's server again on its socket, after Kill.
func (g *Group) Start(t testing.TB, i int) {
	t.Helper()
	if err := g.Tokens[i].start(g.p11kit); err != nil {
		t.Fatalf("softhsmtest: restart server %d: %v", i, err)
	}
}

// Stop stops token i's server and its children with SIGSTOP: calls that
// reach it hang until Continue.
func (g *Group) Stop(t testing.TB, i int) { g.signal(t, i, syscall.SIGSTOP) }

// Continue resumes token i's server after Stop.
func (g *Group) Continue(t testing.TB, i int) { g.signal(t, i, syscall.SIGCONT) }

func (g *Group) signal(t testing.TB, i int, sig syscall.Signal) {
	t.Helper()
	tok := g.Tokens[i]
	tok.mu.Lock()
	cmd := tok.cmd
	tok.mu.Unlock()
	if cmd == nil {
		t.Fatalf("softhsmtest: %v: token %d has no server", sig, i)
	}
	if err := signalServer(cmd, sig); err != nil {
		t.Fatalf("softhsmtest: %v server %d: %v", sig, i, err)
	}
}

// Tool runs pkcs11-tool on token i directly (SoftHSM2, not through its
// server), logged in, and returns its output.
func (g *Group) Tool(t testing.TB, i int, args ...string) string {
	t.Helper()
	return g.Tokens[i].PKCS11Tool(t, args...)
}
