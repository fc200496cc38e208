package testguest

import (
	"bufio"
	"crypto/rand"
	"io"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
)

// Running is a guest that runs on a goroutine of its own while the test
// talks to it: it reads the guest's stdout line by line and writes lines
// to its stdin, so that a guest can stop between steps while the test
// looks at the host.
type Running struct {
	t      testing.TB
	lines  chan string
	stdin  *io.PipeWriter
	stderr *LockedBuffer
	done   chan struct{} // closed when the guest has exited
	result Result
}

// lineTimeout bounds the wait for one line of the guest.
const lineTimeout = 2 * time.Minute

// Start instantiates the guest as guest with args on a goroutine of its
// own. The test's cleanup ends its stdin and waits for it.
func (h *Harness) Start(guest string, args ...string) *Running {
	h.t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	r := &Running{t: h.t, lines: make(chan string, 64), stdin: inW, stderr: &LockedBuffer{}, done: make(chan struct{})}
	cfg := wazero.NewModuleConfig().
		WithName("").
		WithArgs(append([]string{guest}, args...)...).
		WithStdin(inR).WithStdout(outW).WithStderr(r.stderr).
		WithSysWalltime().WithSysNanotime().WithRandSource(rand.Reader)
	go func() {
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			r.lines <- sc.Text()
		}
		close(r.lines)
		_, _ = io.Copy(io.Discard, outR)
	}()
	go func() {
		code, err := h.runModule(cfg, guest)
		if err != nil {
			code = 1
			_, _ = r.stderr.Write([]byte("instantiate: " + err.Error()))
		}
		_ = outW.Close()
		r.result = Result{Stderr: r.stderr.String(), ExitCode: code}
		close(r.done)
	}()
	h.t.Cleanup(func() {
		_ = r.stdin.Close()
		<-r.done
	})
	return r
}

// Line returns the guest's next line of output. It fails the test when the
// guest ends or says nothing for two minutes.
func (r *Running) Line() string {
	r.t.Helper()
	select {
	case l, ok := <-r.lines:
		if !ok {
			r.t.Fatalf("testguest: the guest ended; stderr: %s", r.stderr.String())
		}
		return l
	case <-time.After(lineTimeout):
		r.t.Fatalf("testguest: no line from the guest in %v; stderr: %s", lineTimeout, r.stderr.String())
	}
	return ""
}

// Expect reads the guest's next line and fails the test unless it is want.
func (r *Running) Expect(want string) {
	r.t.Helper()
	if l := r.Line(); l != want {
		r.t.Fatalf("testguest: the guest said %q, want %q; stderr: %s", l, want, r.stderr.String())
	}
}

// Continue writes one line to the guest's stdin.
func (r *Running) Continue() {
	r.t.Helper()
	if _, err := r.stdin.Write([]byte("\n")); err != nil {
		r.t.Fatalf("testguest: stdin: %v", err)
	}
}

// Wait waits for the guest to exit and returns its exit code and stderr
// (its stdout is what Line read).
func (r *Running) Wait() Result {
	r.t.Helper()
	for range r.lines { // what the guest says after the last Line
	}
	<-r.done
	return r.result
}
