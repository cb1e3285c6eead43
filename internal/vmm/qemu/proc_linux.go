package qemu

import (
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"

	"banger/internal/vmm"
)

// detachedAttr puts QEMU in its own session so that it survives the daemon
// (no SIGHUP/SIGINT from the daemon's terminal or process group).
func detachedAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true}
}

// killProcess sends SIGKILL through a pidfd opened after checking the start
// time, so a PID reused between the check and the signal is never hit.
func killProcess(pid int, start uint64) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("opening pidfd: %w", err)
	}
	defer unix.Close(fd)
	if !vmm.ProcessAlive(pid, start) {
		return nil // gone, a zombie, or another process now
	}
	if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("sending SIGKILL: %w", err)
	}
	return nil
}
