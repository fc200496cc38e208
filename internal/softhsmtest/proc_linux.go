package softhsmtest

import (
	"os/exec"
	"runtime"
	"syscall"
)

// setProcessAttributes puts the server in a process group of its own, so
// that terminate reaches the p11-kit-remote children it forks for each
// connection, and makes the kernel stop it when the thread that started it
// exits, so that a test binary that never calls Shutdown does not leave it
// running.
func setProcessAttributes(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

// terminate sends SIGTERM to the server's process group.
func terminate(cmd *exec.Cmd) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
}

// startLocked starts cmd from a goroutine locked to its OS thread, which
// then waits for the command and closes exited. The parent-death signal is
// tied to the starting thread, not the process: the locked goroutine keeps
// that thread alive for as long as the server runs.
func startLocked(cmd *exec.Cmd, exited chan<- struct{}) error {
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Never unlocked: the thread must outlive the server.
		if err := cmd.Start(); err != nil {
			started <- err
			close(exited)
			return
		}
		started <- nil
		_ = cmd.Wait()
		close(exited)
	}()
	return <-started
}

// signalServer sends sig to the server's process group: the server and
// the p11-kit-remote children that serve its connections (and load the
// token).
func signalServer(cmd *exec.Cmd, sig syscall.Signal) error {
	return syscall.Kill(-cmd.Process.Pid, sig)
}
