// Package qemu is the vmm.Driver for QEMU's microvm machine. It builds the
// QEMU argv as a pure function, supervises the process (which outlives the
// daemon: own session, PID + start time recorded in vmm.State) and talks to
// QEMU over QMP. The guest agent channel is a virtio-serial port backed by
// a unix-socket chardev (no vsock on the test hosts).
package qemu

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"time"

	"banger/internal/vmm"
)

// Name is the driver name recorded in vmm.State.
const Name = "qemu"

// defaultStartTimeout bounds Start when ctx has no deadline.
const defaultStartTimeout = 30 * time.Second

// Options configure the driver.
type Options struct {
	// Binary is the QEMU executable (default "qemu-system-x86_64" on PATH).
	Binary string
	// Accel is "auto" (default), "kvm" or "tcg".
	Accel string
	// Logger receives lifecycle events (default: discard).
	Logger *slog.Logger
	// Probe answers the host questions behind Accel auto (default HostProbe).
	Probe AccelProbe
}

// Driver starts and re-adopts QEMU microvm instances. It holds no per-VM
// state; it is safe for concurrent use.
type Driver struct {
	binary string
	accel  string
	log    *slog.Logger
	probe  AccelProbe
}

var _ vmm.Driver = (*Driver)(nil)

// New returns a driver; it does not touch the host (see Available).
func New(opts Options) *Driver {
	d := &Driver{binary: opts.Binary, accel: opts.Accel, log: opts.Logger, probe: opts.Probe}
	if d.binary == "" {
		d.binary = "qemu-system-x86_64"
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.probe == nil {
		d.probe = HostProbe{}
	}
	return d
}

// Name returns "qemu".
func (d *Driver) Name() string { return Name }

// Capabilities: raw and qcow2 disks (qcow2 overlays give cheap per-VM
// layers on hosts without reflinks), bzImage kernels, virtio-serial agent.
func (d *Driver) Capabilities() vmm.Capabilities {
	return vmm.Capabilities{DiskFormats: []string{vmm.FormatQcow2, vmm.FormatRaw}}
}

// Available checks that the binary is on PATH and the accelerator setting
// can be honoured. No side effects.
func (d *Driver) Available(ctx context.Context) error {
	if _, err := exec.LookPath(d.binary); err != nil {
		return fmt.Errorf("finding %s: %w: install qemu-system-x86 (%v)", d.binary, vmm.ErrUnavailable, err)
	}
	if _, err := ChooseAccel(d.accel, d.probe); err != nil {
		return err
	}
	return nil
}

// Start boots spec. It returns once QMP answers and reports the VM running.
// On error the process is killed and every file it made in the run dir but
// the console log is removed; the error carries the tail of QEMU's stderr.
// Not idempotent: a run dir that already holds a QMP socket is refused.
func (d *Driver) Start(ctx context.Context, spec vmm.Spec) (vmm.Instance, error) {
	if err := d.Validate(spec); err != nil {
		return nil, err
	}
	accel, err := ChooseAccel(d.accel, d.probe)
	if err != nil {
		return nil, err
	}
	paths := PathsFor(spec.RunDir)
	if _, err := os.Lstat(paths.QMPSock); err == nil {
		return nil, fmt.Errorf("starting qemu in %s: run dir already in use (%s exists)", spec.RunDir, paths.QMPSock)
	}
	log := d.log.With("vm", spec.ID)
	stderr, err := os.OpenFile(paths.StderrLog, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("creating qemu stderr log: %w", err)
	}
	defer stderr.Close() // the child holds its own copy
	args := CommandArgs(spec, accel, paths)
	cmd := exec.Command(d.binary, args...)
	cmd.Stdout = stderr
	cmd.Stderr = stderr
	cmd.Dir = spec.RunDir
	cmd.SysProcAttr = detachedAttr()
	if err := cmd.Start(); err != nil {
		cleanupFailedStart(paths)
		return nil, fmt.Errorf("starting %s: %w", d.binary, err)
	}
	inst := newChild(cmd, vmm.State{
		Driver:      Name,
		Accel:       accel,
		PID:         cmd.Process.Pid,
		ControlSock: paths.QMPSock,
		ConsoleLog:  paths.ConsoleLog,
		AgentSock:   paths.AgentSock,
		RunDir:      spec.RunDir,
	}, paths, log)
	if start, err := vmm.ProcStartTime(cmd.Process.Pid); err == nil {
		inst.st.PIDStart = start
	} else {
		err = fmt.Errorf("recording qemu start time: %w", err)
		return nil, d.abortStart(inst, paths, err)
	}
	if err := waitReady(ctx, inst, paths.QMPSock); err != nil {
		return nil, d.abortStart(inst, paths, err)
	}
	log.Info("qemu started", "pid", inst.st.PID, "accel", accel, "run_dir", spec.RunDir)
	return inst, nil
}

// CommandArgs is the argv (without the binary) that Start passes for spec:
// BuildArgs, plus under TCG the host's TSC frequency on the kernel command
// line (see clock_linux.go). Unlike BuildArgs it reads the host
// (/proc/cpuinfo). Benchmarks use it to boot the very same guest by hand.
func CommandArgs(spec vmm.Spec, accel string, paths Paths) []string {
	if accel == AccelTCG {
		if extra := tcgClockArgs(); extra != "" {
			spec.Cmdline = strings.TrimSpace(spec.Cmdline + " " + extra)
		}
	}
	return BuildArgs(spec, accel, paths)
}

// waitReady polls the QMP socket until query-status says the VM runs, the
// process exits, or the deadline passes.
func waitReady(ctx context.Context, inst *instance, sock string) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultStartTimeout)
		defer cancel()
	}
	var lastErr error
	for {
		select {
		case <-inst.done:
			return fmt.Errorf("waiting for qemu: process exited early (%v)", inst.exitErr)
		case <-ctx.Done():
			return fmt.Errorf("waiting for qemu qmp: %w (last: %v)", ctx.Err(), lastErr)
		default:
		}
		if _, err := os.Stat(sock); err == nil {
			qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			status, err := qmpStatus(qctx, sock)
			cancel()
			if err == nil && status == "running" {
				return nil
			}
			lastErr = err
			if err == nil {
				lastErr = fmt.Errorf("status %q", status)
			}
		}
		select {
		case <-inst.done:
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// abortStart kills a half-started QEMU, removes its files (keeping the
// console log) and returns err with QEMU's stderr and console tails.
func (d *Driver) abortStart(inst *instance, paths Paths, err error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	killErr := inst.Kill(ctx)
	stderr, _ := os.ReadFile(paths.StderrLog)
	console, _ := os.ReadFile(paths.ConsoleLog)
	cleanupFailedStart(paths)
	err = fmt.Errorf("starting qemu: %w; stderr: %s; console: %s", err,
		tailString(string(stderr), 2000), tailString(string(console), 1000))
	return errors.Join(err, killErr)
}

func cleanupFailedStart(paths Paths) {
	for _, p := range []string{paths.QMPSock, paths.AgentSock, paths.StderrLog} {
		_ = os.Remove(p)
	}
}

// Attach re-adopts an instance from its recorded state: the PID must be
// alive with the recorded start time and QMP must answer. Otherwise the
// error wraps vmm.ErrNotRunning. Safe to call repeatedly; the returned
// instance holds no connection.
func (d *Driver) Attach(ctx context.Context, st vmm.State) (vmm.Instance, error) {
	if st.Driver != Name {
		return nil, fmt.Errorf("attaching to %s instance with the qemu driver: wrong driver", st.Driver)
	}
	if !vmm.ProcessAlive(st.PID, st.PIDStart) {
		return nil, fmt.Errorf("attaching to qemu pid %d: %w", st.PID, vmm.ErrNotRunning)
	}
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := qmpStatus(qctx, st.ControlSock); err != nil {
		if !vmm.ProcessAlive(st.PID, st.PIDStart) {
			return nil, fmt.Errorf("attaching to qemu pid %d: %w", st.PID, vmm.ErrNotRunning)
		}
		return nil, fmt.Errorf("attaching to qemu pid %d: querying status: %w", st.PID, err)
	}
	return newAttached(st, PathsFor(st.RunDir), d.log.With("pid", st.PID, "run_dir", st.RunDir)), nil
}

func tailString(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
