//go:build !linux

package softhsmtest

import (
	"os"
	"os/exec"
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
