//go:build unix

package softhsmtest

import (
	"fmt"
	"syscall"
	"testing"
	"time"
)

// Fault injection: the p11-kit server in front of the token is the part
// that tests make fail. Killing it (and the p11-kit-remote children that
// serve its connections) is a token that vanished; SIGSTOP is a token that
// hangs. The server belongs to the process, so a test that kills or stops
// it must start or continue it again before it ends (use t.Cleanup).

// Kill kills the p11-kit server and the children that serve its
// connections with SIGKILL, as a crashed token would go, and waits for the
// server to exit. Clients see their connections drop.
func (r *RemoteFixture) Kill(t testing.TB) {
	t.Helper()
	stateMu.Lock()
	cmd, exited := server, done
	server, done = nil, nil
	stateMu.Unlock()
	if cmd == nil {
		t.Fatal("softhsmtest: Kill: no p11-kit server runs")
	}
	if err := signalServer(cmd, syscall.SIGKILL); err != nil {
		t.Fatalf("softhsmtest: kill p11-kit server: %v", err)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("softhsmtest: the p11-kit server did not exit within 10s of SIGKILL")
	}
}

// Start starts a p11-kit server again on the same socket, after Kill. The
// token's token objects are still there (they live in files); its session
// objects died with the old server.
func (r *RemoteFixture) Start(t testing.TB) {
	t.Helper()
	stateMu.Lock()
	running := server != nil
	stateMu.Unlock()
	if running {
		t.Fatal("softhsmtest: Start: a p11-kit server runs already")
	}
	if err := launchServer(r.fx, r.p11kit, r.Socket); err != nil {
		t.Fatalf("softhsmtest: restart p11-kit server: %v", err)
	}
}

// Running reports whether the process's p11-kit server runs (it may be
// stopped).
func (r *RemoteFixture) Running() bool {
	stateMu.Lock()
	defer stateMu.Unlock()
	return server != nil
}

// Stop stops the server and its children with SIGSTOP: the token hangs,
// and every call that reaches it waits until Continue.
func (r *RemoteFixture) Stop(t testing.TB) { r.signal(t, syscall.SIGSTOP) }

// Continue resumes a server stopped by Stop with SIGCONT.
func (r *RemoteFixture) Continue(t testing.TB) { r.signal(t, syscall.SIGCONT) }

func (r *RemoteFixture) signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	stateMu.Lock()
	cmd := server
	stateMu.Unlock()
	if cmd == nil {
		t.Fatalf("softhsmtest: %v: no p11-kit server runs", sig)
	}
	if err := signalServer(cmd, sig); err != nil {
		t.Fatalf("softhsmtest: %v: %v", sig, fmt.Errorf("signal p11-kit server: %w", err))
	}
}
