package firecracker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"banger/internal/vmm"
)

// cleanupTimeout bounds rollback work done after the caller's ctx ended.
const cleanupTimeout = 5 * time.Second

// Start implements vmm.Driver: spawn firecracker in its own session (so it
// outlives the daemon), wait for the API socket, configure and boot. On
// any failure the process is killed and the sockets removed; only the
// console log stays.
func (d *Driver) Start(ctx context.Context, spec vmm.Spec) (vmm.Instance, error) {
	if err := d.Validate(spec); err != nil {
		return nil, err
	}
	log := d.opts.Logger.With("vm", spec.ID)
	st := vmm.State{
		Driver:      Name,
		Accel:       "kvm",
		ControlSock: APISocket(spec.RunDir),
		ConsoleLog:  ConsoleLog(spec.RunDir),
		AgentSock:   VsockSocket(spec.RunDir),
		RunDir:      spec.RunDir,
	}
	// A socket left here belongs to another (maybe live) instance: refuse
	// before touching anything, so the rollback never removes its files.
	for _, p := range []string{st.ControlSock, st.AgentSock} {
		if _, err := os.Lstat(p); err == nil {
			return nil, fmt.Errorf("starting firecracker in %s: %s exists (instance already started?)", spec.RunDir, p)
		}
	}
	console, err := os.OpenFile(st.ConsoleLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("opening console log: %w", err)
	}
	cmd := exec.Command(d.opts.Binary, Argv(spec)...)
	// The serial console is the VMM's stdout; its own log goes to stderr.
	// Both land in the console log, which is what explains a failed boot.
	cmd.Stdout, cmd.Stderr = console, console
	cmd.SysProcAttr = detached()
	err = cmd.Start()
	_ = console.Close()
	if err != nil {
		return nil, fmt.Errorf("spawning %s: %w", d.opts.Binary, err)
	}
	st.PID = cmd.Process.Pid
	inst := newChildInstance(cmd, st, d.opts.AgentPort)
	log.Info("firecracker spawned", "pid", st.PID)

	if err := d.boot(ctx, inst, spec); err != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		rbErr := inst.Kill(cctx)
		for _, p := range []string{st.ControlSock, st.AgentSock} {
			if e := os.Remove(p); e != nil && !errors.Is(e, os.ErrNotExist) {
				rbErr = errors.Join(rbErr, fmt.Errorf("removing %s: %w", p, e))
			}
		}
		return nil, errors.Join(err, rbErr)
	}
	log.Info("firecracker guest started", "pid", st.PID)
	return inst, nil
}

// boot waits for the API and runs the configuration sequence.
func (d *Driver) boot(ctx context.Context, inst *instance, spec vmm.Spec) error {
	start, err := vmm.ProcStartTime(inst.st.PID)
	if err != nil {
		// Most likely the VMM already exited (and was reaped): its log says why.
		return fmt.Errorf("reading start time of firecracker: %w; log: %s", err, tail(inst.st.ConsoleLog))
	}
	inst.st.PIDStart = start
	if err := d.waitAPI(ctx, inst); err != nil {
		return err
	}
	for _, c := range ConfigCalls(spec) {
		if err := inst.api.do(ctx, c.Method, c.Path, c.Body, nil); err != nil {
			return fmt.Errorf("configuring firecracker: %w", err)
		}
	}
	return nil
}

// waitAPI polls for the API socket (stat, then a cheap GET /) until it
// answers, the process dies or the deadline passes; failures quote the
// end of the console log, where the VMM wrote why.
func (d *Driver) waitAPI(ctx context.Context, inst *instance) error {
	ctx, cancel := context.WithTimeout(ctx, d.opts.SocketTimeout)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		if _, err := os.Stat(inst.st.ControlSock); err == nil {
			pctx, pcancel := context.WithTimeout(ctx, time.Second)
			_, lastErr = inst.api.describe(pctx)
			pcancel()
			if lastErr == nil {
				return nil
			}
		}
		select {
		case <-inst.done:
			return fmt.Errorf("waiting for firecracker API: process exited (%v); log: %s", inst.exitErr, tail(inst.st.ConsoleLog))
		case <-ctx.Done():
			return fmt.Errorf("waiting for firecracker API socket %s: %w (last error: %v); log: %s",
				inst.st.ControlSock, ctx.Err(), lastErr, tail(inst.st.ConsoleLog))
		case <-tick.C:
		}
	}
}

// tail returns the last lines of a log file, for error messages.
func tail(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(unreadable: %v)", err)
	}
	defer f.Close()
	const max = 2048
	if fi, err := f.Stat(); err == nil && fi.Size() > max {
		_, _ = f.Seek(fi.Size()-max, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "(empty)"
	}
	return s
}

// Attach implements vmm.Driver: the recorded process must be alive with
// the same start time (no PID reuse) and its API socket must answer.
func (d *Driver) Attach(ctx context.Context, st vmm.State) (vmm.Instance, error) {
	if st.Driver != Name {
		return nil, fmt.Errorf("attaching: state of driver %q given to %s", st.Driver, Name)
	}
	if !vmm.ProcessAlive(st.PID, st.PIDStart) {
		return nil, errNotRunning("firecracker pid %d (start %d) is gone", st.PID, st.PIDStart)
	}
	api := newClient(st.ControlSock)
	actx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := api.describe(actx); err != nil {
		api.close()
		return nil, errNotRunning("firecracker pid %d does not answer on %s: %v", st.PID, st.ControlSock, err)
	}
	return newAdoptedInstance(st, api, d.opts.AgentPort), nil
}
