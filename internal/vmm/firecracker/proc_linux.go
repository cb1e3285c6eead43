package firecracker

import "syscall"

// detached puts the VMM in a session of its own so that it outlives the
// daemon (and its terminal's signals).
func detached() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }

// killPID sends SIGKILL; a process already gone is not an error.
func killPID(pid int) error {
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && err != syscall.ESRCH {
		return err
	}
	return nil
}
