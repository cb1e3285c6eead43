package qemu

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os/exec"
	"sync"
	"time"

	"banger/internal/vmm"
)

// instance is one QEMU process, either started here (a child, reaped by a
// goroutine) or re-adopted by Attach (polled through /proc, guarded by the
// start time against PID reuse).
type instance struct {
	st    vmm.State
	paths Paths
	log   *slog.Logger

	// Child instances only: done is closed once cmd.Wait returned and
	// exitErr is set. Nil for attached instances.
	done    chan struct{}
	exitErr error

	killMu sync.Mutex // serialises Kill
}

var _ vmm.Instance = (*instance)(nil)

func newChild(cmd *exec.Cmd, st vmm.State, paths Paths, log *slog.Logger) *instance {
	inst := &instance{st: st, paths: paths, log: log, done: make(chan struct{})}
	go func() {
		inst.exitErr = cmd.Wait()
		close(inst.done)
	}()
	return inst
}

func newAttached(st vmm.State, paths Paths, log *slog.Logger) *instance {
	return &instance{st: st, paths: paths, log: log}
}

// State is the record for Attach; constant.
func (i *instance) State() vmm.State { return i.st }

// Running reports whether the process is alive (a zombie is not).
func (i *instance) Running() bool {
	if i.done != nil {
		select {
		case <-i.done:
			return false
		default:
		}
	}
	return vmm.ProcessAlive(i.st.PID, i.st.PIDStart)
}

// Wait blocks until the process exits (nil) or ctx ends (ctx.Err()).
// Works for started and attached instances; safe to call concurrently.
func (i *instance) Wait(ctx context.Context) error {
	if i.done != nil {
		select {
		case <-i.done:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("waiting for qemu pid %d: %w", i.st.PID, ctx.Err())
		}
	}
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for i.Running() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for qemu pid %d: %w", i.st.PID, ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// Shutdown presses the ACPI power button (QMP system_powerdown) and waits
// for the guest to power off until ctx ends; then it asks QEMU to quit
// (which flushes disk caches) and finally kills it. Returns nil once the
// process is gone, also when the shutdown had to be forced (logged).
// Idempotent: nil on an ended instance.
func (i *instance) Shutdown(ctx context.Context) error {
	if !i.Running() {
		return nil
	}
	if err := qmpDo(ctx, i.paths.QMPSock, "system_powerdown", nil, nil); err != nil && i.Running() {
		i.log.Warn("qemu powerdown request failed, forcing", "err", err)
	} else if err := i.Wait(ctx); err == nil {
		i.log.Info("qemu guest powered off")
		return nil
	}
	// Cleanup runs past the caller's deadline, bounded on its own.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	qctx, qcancel := context.WithTimeout(fctx, 5*time.Second)
	err := qmpDo(qctx, i.paths.QMPSock, "quit", nil, nil)
	if err == nil {
		err = i.Wait(qctx)
	}
	qcancel()
	if err == nil {
		i.log.Warn("qemu guest did not power off in time; quit QEMU")
		return nil
	}
	i.log.Warn("qemu guest did not power off and quit failed; killing", "err", err)
	return i.Kill(fctx)
}

// Kill sends SIGKILL and waits for the process to go (until ctx ends).
// Idempotent: nil on an ended instance.
func (i *instance) Kill(ctx context.Context) error {
	i.killMu.Lock()
	defer i.killMu.Unlock()
	if !i.Running() {
		return nil
	}
	if err := killProcess(i.st.PID, i.st.PIDStart); err != nil {
		return fmt.Errorf("killing qemu pid %d: %w", i.st.PID, err)
	}
	return i.Wait(ctx)
}

// DialAgent connects to the agent port's unix socket. QEMU's socket
// chardev serves ONE client at a time: a second connection is accepted by
// the kernel but gets no data until the first one closes, so callers keep
// one stream and multiplex on it. Bytes written before the guest opens the
// port wait in QEMU; dialing works as soon as QEMU runs.
func (i *instance) DialAgent(ctx context.Context) (net.Conn, error) {
	if !i.Running() {
		return nil, fmt.Errorf("dialing qemu agent port: %w", vmm.ErrNotRunning)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", i.paths.AgentSock)
	if err != nil {
		if !i.Running() {
			err = errors.Join(err, vmm.ErrNotRunning)
		}
		return nil, fmt.Errorf("dialing qemu agent port %s: %w", i.paths.AgentSock, err)
	}
	return c, nil
}
