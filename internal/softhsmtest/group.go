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
// /etc/pkcs11/modules while the test process runs. The proxy lists each
// remote token as a slot of its own, with the same label ([TokenLabel]),
// the same PIN and different serials.
//
// # One group per process
//
// p11-kit-proxy reads the module files once, when the process first loads
// it, and never again (C_Finalize and C_Initialize reconnect to the same
// servers but read no new files). So the group belongs to the process, as
// [Token] does: the first [Servers] call makes it, before anything loads
// the proxy, and [Shutdown] (from TestMain, after m.Run, so also when tests
// failed) stops the servers and removes the module files and directories.
// Each test that uses it gets it with every server running, and when the
// test ends, killed servers are started again and stopped ones continued.
// The proxy loads every module file it finds, other programs' too: select
// tokens by serial. The module files' names are unique to the process.
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

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	stopped bool
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

// The process's group (see Group).
var (
	groupOnce sync.Once
	group     *Group
	groupErr  error
	groupSkip string
	groupDir  string // the tokens' parent directory
	groupMade bool   // moduleDir was made for the group
)

// Servers returns the process's group of n tokens, making it on the first
// call; later calls must ask for the same n. It skips the test (fails it
// with CI=true) when a tool is missing, and fails it when
// /etc/pkcs11/modules cannot be written (the proxy has no other place to
// find remote modules). Call it before anything in the process loads
// p11-kit-proxy.so.
func Servers(t testing.TB, n int) *Group {
	t.Helper()
	groupOnce.Do(func() { group, groupSkip, groupErr = makeGroup(n) })
	switch {
	case groupSkip != "":
		unavailable(t, groupSkip)
	case groupErr != nil:
		t.Fatalf("softhsmtest: group: %v", groupErr)
	case len(group.Tokens) != n:
		t.Fatalf("softhsmtest: group: the process's group has %d tokens, asked for %d", len(group.Tokens), n)
	}
	t.Cleanup(func() { group.restore(t) })
	return group
}

// makeGroup makes the process's group; it answers a skip reason for a
// missing tool and an error for a failure.
func makeGroup(n int) (*Group, string, error) {
	util, err := exec.LookPath("softhsm2-util")
	if err != nil {
		return nil, "softhsm2-util not found (install softhsm2)", nil
	}
	module := firstExisting(moduleCandidates)
	if module == "" {
		return nil, "libsofthsm2.so not found (install softhsm2)", nil
	}
	p11kit, err := exec.LookPath("p11-kit")
	if err != nil {
		return nil, "p11-kit not found (install p11-kit)", nil
	}
	proxy := firstExisting(proxyCandidates)
	if proxy == "" {
		return nil, "p11-kit-proxy.so not found (install p11-kit-modules)", nil
	}
	g := &Group{Module: proxy, Label: TokenLabel, PIN: randomPIN(), p11kit: p11kit}
	if groupDir, err = os.MkdirTemp("", "softhsmtest-group-"); err != nil {
		return nil, "", err
	}
	groupMade = !exists(moduleDir)
	if err := os.MkdirAll(moduleDir, 0o755); err != nil {
		return nil, "", fmt.Errorf("%w (the proxy finds remote tokens only there)", err)
	}
	id := make([]byte, 6)
	_, _ = rand.Read(id)
	unique := hex.EncodeToString(id)
	// Recorded before anything starts: Shutdown removes the servers and
	// module files even when the set-up fails half-way.
	group = g
	for i := range n {
		dir := filepath.Join(groupDir, fmt.Sprintf("token%d", i))
		if err := os.Mkdir(dir, 0o700); err != nil {
			return nil, "", err
		}
		fx, err := makeTokenPIN(util, module, dir, g.PIN)
		if err != nil {
			return nil, "", fmt.Errorf("token %d: %w", i, err)
		}
		tok := &GroupToken{
			Fixture:    fx,
			Socket:     filepath.Join(dir, "p11-kit.sock"),
			ModuleFile: filepath.Join(moduleDir, fmt.Sprintf("wasihsm-test-%s-%d.module", unique, i)),
		}
		g.Tokens = append(g.Tokens, tok)
		if err := tok.start(p11kit); err != nil {
			return nil, "", fmt.Errorf("token %d: %w", i, err)
		}
		if err := os.WriteFile(tok.ModuleFile, []byte("remote: unix:path="+tok.Socket+"\n"), 0o644); err != nil {
			return nil, "", fmt.Errorf("token %d: module file: %w", i, err)
		}
	}
	return g, "", nil
}

// shutdownGroup stops the group's servers and removes its module files
// and directories (see Shutdown).
func shutdownGroup() {
	if group == nil {
		return
	}
	for _, tok := range group.Tokens {
		tok.shutdown()
		_ = os.Remove(tok.ModuleFile)
	}
	if groupMade {
		_ = os.Remove(moduleDir) // only when empty: others may use it
	}
	if groupDir != "" {
		_ = os.RemoveAll(groupDir)
	}
}

// restore starts again the servers a test killed and continues those it
// stopped.
func (g *Group) restore(t testing.TB) {
	for i, tok := range g.Tokens {
		tok.mu.Lock()
		cmd, stopped := tok.cmd, tok.stopped
		tok.stopped = false
		tok.mu.Unlock()
		switch {
		case cmd == nil:
			if err := tok.start(g.p11kit); err != nil {
				t.Errorf("softhsmtest: restore server %d: %v", i, err)
			}
		case stopped:
			_ = signalServer(cmd, syscall.SIGCONT)
		}
	}
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
	tok.cmd, tok.exited, tok.stopped = nil, nil, false
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
func (g *Group) Stop(t testing.TB, i int) { g.signal(t, i, syscall.SIGSTOP, true) }

// Continue resumes token i's server after Stop.
func (g *Group) Continue(t testing.TB, i int) { g.signal(t, i, syscall.SIGCONT, false) }

func (g *Group) signal(t testing.TB, i int, sig syscall.Signal, stopped bool) {
	t.Helper()
	tok := g.Tokens[i]
	tok.mu.Lock()
	cmd := tok.cmd
	if cmd != nil {
		tok.stopped = stopped
	}
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
