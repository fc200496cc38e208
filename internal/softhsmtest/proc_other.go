//go:build !linux

package softhsmtest

import (
	"os"
	"os/exec"
	"syscall"
)

// setProcessAttributes does nothing outside Linux: call Shutdown.
func setProcessAttributes(*exec.Cmd) {}

// terminate asks the server to stop.
func terminate(cmd *exec.Cmd) { _ = cmd.Process.Signal(os.Interrupt) }

// startLocked starts cmd and closes exited when it has exited.
func startLocked(cmd *exec.Cmd, exited chan<- struct{}) error {
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	return nil
}

// signalServer sends sig to the server (outside Linux the server has no
// process group of its own).
func signalServer(cmd *exec.Cmd, sig syscall.Signal) error {
	return cmd.Process.Signal(sig)
}
