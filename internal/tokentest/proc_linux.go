package tokentest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// child is a process a fixture started and stops at Shutdown.
type child struct {
	name   string
	cmd    *exec.Cmd
	exited chan struct{}
	log    string
}

var (
	childMu  sync.Mutex
	children = map[string][]*child{} // by fixture name, in start order
)

// startChild starts a program for the fixture named owner, its output
// going to logPath, in a process group of its own and with a parent-death
// signal, so that a test binary that never calls Shutdown does not leave it
// running. It is started from a goroutine locked to its OS thread: the
// parent-death signal is tied to the starting thread, which must outlive
// the child.
func startChild(owner, logPath string, env []string, name string, args ...string) (*child, error) {
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	c := &child{name: name, cmd: cmd, exited: make(chan struct{}), log: logPath}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Never unlocked: the thread must outlive the child.
		if err := cmd.Start(); err != nil {
			started <- err
			close(c.exited)
			return
		}
		started <- nil
		_ = cmd.Wait()
		close(c.exited)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	childMu.Lock()
	children[owner] = append(children[owner], c)
	childMu.Unlock()
	return c, nil
}

// running reports whether the child has not exited.
func (c *child) running() bool {
	select {
	case <-c.exited:
		return false
	default:
		return true
	}
}

// failure describes a child that exited, with its log.
func (c *child) failure() error {
	log, _ := os.ReadFile(c.log)
	return fmt.Errorf("%s exited: %s", c.name, log)
}

// stop sends SIGTERM to the child's process group and waits for it, then
// SIGKILL after 5s.
func (c *child) stop() {
	_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		<-c.exited
	}
}

// stopChildren stops the children of the fixture named owner, the last
// started first.
func stopChildren(owner string) {
	childMu.Lock()
	cs := children[owner]
	delete(children, owner)
	childMu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i].stop()
	}
}

// waitFor calls ready every 50ms until it answers nil, the child exits or
// the timeout passes.
func waitFor(c *child, timeout time.Duration, what string, ready func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := ready()
		if err == nil {
			return nil
		}
		if c != nil && !c.running() {
			return fmt.Errorf("waiting for %s: %w", what, c.failure())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s: %w", what, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freePortPair finds two consecutive free TCP ports on 127.0.0.1 (swtpm's
// TCTI expects the control port right after the server port).
func freePortPair() (int, error) {
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port+1))
		l.Close()
		if err == nil {
			l2.Close()
			return port, nil
		}
	}
	return 0, errors.New("no two consecutive free ports on 127.0.0.1")
}
