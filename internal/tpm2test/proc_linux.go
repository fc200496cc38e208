package tpm2test

import (
	"os/exec"
	"syscall"
)

// setProcessAttributes makes the kernel stop a daemon when the test
// process dies without Shutdown.
func setProcessAttributes(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
