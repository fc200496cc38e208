//go:build !linux

package tpm2test

import "os/exec"

// setProcessAttributes does nothing: only Linux has a parent-death signal.
func setProcessAttributes(*exec.Cmd) {}
