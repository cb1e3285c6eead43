// Package vmmtest is the conformance suite every vmm.Driver must pass
// (in the manner of containerd's snapshotter testsuite). A driver package
// calls Run from its own test with a factory and a Fixture that boots a tiny
// guest; the suite only uses the vmm contract and the driver's Capabilities,
// never the driver's name.
package vmmtest

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"banger/internal/vmm"
)

// Fixture describes the guest the suite boots.
type Fixture struct {
	// Spec returns a bootable spec whose RunDir is runDir (the suite
	// creates it). Called once per booted instance.
	Spec func(t *testing.T, runDir string) vmm.Spec
	// AgentEcho: the guest echoes every byte it reads on the agent channel
	// back to the host; the suite then round-trips bytes through DialAgent.
	AgentEcho bool
	// ReadyMarker, if set, is text the guest writes to the console once it
	// is able to handle a power-off request. Shutdown is tested only after
	// it appears (a power button pressed during early boot is lost).
	ReadyMarker string
	// GracefulMarker, if set, is text the console holds only after the
	// guest powered itself off (e.g. the kernel's "reboot: Power down").
	// It is how the suite tells a graceful Shutdown from a forced kill.
	GracefulMarker string
	// BootTimeout bounds boot until ReadyMarker / agent echo (default 90s;
	// TCG on a busy 2-core machine is slow).
	BootTimeout time.Duration
	// ShutdownTimeout bounds a graceful Shutdown (default 60s).
	ShutdownTimeout time.Duration
}

func (f Fixture) bootTimeout() time.Duration {
	if f.BootTimeout > 0 {
		return f.BootTimeout
	}
	return 90 * time.Second
}

func (f Fixture) shutdownTimeout() time.Duration {
	if f.ShutdownTimeout > 0 {
		return f.ShutdownTimeout
	}
	return 60 * time.Second
}

// Run runs the conformance suite. newDriver must return a fresh driver each
// call (the suite uses a second driver to simulate a daemon restart).
// Subtests that boot guests run sequentially: test machines have few cores.
func Run(t *testing.T, newDriver func(t *testing.T) vmm.Driver, fx Fixture) {
	t.Run("Validate", func(t *testing.T) { testValidate(t, newDriver(t), fx) })
	t.Run("StartFailureLeavesNothing", func(t *testing.T) { testStartFailure(t, newDriver, fx) })
	t.Run("Lifecycle", func(t *testing.T) { testLifecycle(t, newDriver, fx) })
	t.Run("Kill", func(t *testing.T) { testKill(t, newDriver, fx) })
}

func testValidate(t *testing.T, d vmm.Driver, fx Fixture) {
	good := fx.Spec(t, t.TempDir())
	if err := d.Validate(good); err != nil {
		t.Fatalf("Validate(fixture spec) = %v, want nil", err)
	}
	bad := map[string]func(*vmm.Spec){
		"zero vcpus":     func(s *vmm.Spec) { s.VCPUs = 0 },
		"negative vcpus": func(s *vmm.Spec) { s.VCPUs = -1 },
		"zero memory":    func(s *vmm.Spec) { s.MemoryMiB = 0 },
		"no kernel":      func(s *vmm.Spec) { s.Kernel = "" },
		"missing kernel": func(s *vmm.Spec) { s.Kernel = filepath.Join(t.TempDir(), "nonexistent") },
		"missing initrd": func(s *vmm.Spec) { s.Initrd = filepath.Join(t.TempDir(), "nonexistent") },
		"no run dir":     func(s *vmm.Spec) { s.RunDir = "" },
		"unknown disk format": func(s *vmm.Spec) {
			s.Disks = append(s.Disks, vmm.Disk{Path: good.Kernel, Format: "vmdk"})
		},
		"missing disk": func(s *vmm.Spec) {
			s.Disks = append(s.Disks, vmm.Disk{Path: filepath.Join(t.TempDir(), "nonexistent"), Format: vmm.FormatRaw})
		},
		"nic without tap": func(s *vmm.Spec) {
			s.NICs = append(s.NICs, vmm.NetIf{MAC: "52:54:00:12:34:56"})
		},
		"bad mac": func(s *vmm.Spec) {
			s.NICs = append(s.NICs, vmm.NetIf{Tap: "tap0", MAC: "not-a-mac"})
		},
	}
	if !slices.Contains(d.Capabilities().DiskFormats, vmm.FormatQcow2) {
		bad["unsupported qcow2"] = func(s *vmm.Spec) {
			s.Disks = append(s.Disks, vmm.Disk{Path: good.Kernel, Format: vmm.FormatQcow2})
		}
	}
	for name, mutate := range bad {
		s := good
		s.Disks = slices.Clone(good.Disks)
		s.NICs = slices.Clone(good.NICs)
		mutate(&s)
		if err := d.Validate(s); !errors.Is(err, vmm.ErrInvalidSpec) {
			t.Errorf("Validate(%s) = %v, want ErrInvalidSpec", name, err)
		}
	}
}

// testStartFailure boots a "kernel" that is garbage: the VMM must fail, and
// Start must return an error leaving no process and no file but the console
// log in the run dir.
func testStartFailure(t *testing.T, newDriver func(t *testing.T) vmm.Driver, fx Fixture) {
	d := newDriver(t)
	requireAvailable(t, d)
	runDir := t.TempDir()
	spec := fx.Spec(t, runDir)
	garbage := filepath.Join(t.TempDir(), "garbage-kernel")
	if err := os.WriteFile(garbage, []byte("this is not a kernel\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec.Kernel = garbage
	ctx, cancel := context.WithTimeout(context.Background(), fx.bootTimeout())
	defer cancel()
	inst, err := d.Start(ctx, spec)
	if err == nil {
		t.Cleanup(func() { _ = inst.Kill(context.Background()) })
		t.Fatalf("Start with a garbage kernel succeeded (state %+v)", inst.State())
	}
	t.Logf("Start error (expected): %v", err)
	if pids := processesMentioning(runDir); len(pids) > 0 {
		t.Errorf("processes referencing the run dir survive a failed Start: %v", pids)
	}
	entries, _ := os.ReadDir(runDir)
	for _, e := range entries {
		if !strings.Contains(e.Name(), "console") {
			t.Errorf("failed Start left %s in the run dir", e.Name())
		}
	}
}

func testLifecycle(t *testing.T, newDriver func(t *testing.T) vmm.Driver, fx Fixture) {
	d := newDriver(t)
	requireAvailable(t, d)
	inst := startGuest(t, d, fx)
	st := inst.State()
	if !inst.Running() {
		t.Fatal("Running() = false right after Start")
	}
	if st.Driver != d.Name() || st.PID <= 0 || st.PIDStart == 0 || st.ConsoleLog == "" || st.RunDir == "" {
		t.Fatalf("incomplete State after Start: %+v", st)
	}
	if !vmm.ProcessAlive(st.PID, st.PIDStart) {
		t.Fatalf("State names pid %d start %d, which is not alive", st.PID, st.PIDStart)
	}

	// State survives the store: JSON round trip is lossless.
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var back vmm.State
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, st) {
		t.Fatalf("State JSON round trip: got %+v, want %+v", back, st)
	}

	// Wait on a running instance honours ctx.
	short, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	err = inst.Wait(short)
	cancel()
	if err == nil {
		t.Fatal("Wait returned nil while the instance runs")
	}

	// A fresh driver (a restarted daemon) re-adopts the instance.
	ctx := context.Background()
	adopted, err := newDriver(t).Attach(ctx, back)
	if err != nil {
		t.Fatalf("Attach(State) of a running instance: %v", err)
	}
	if !adopted.Running() {
		t.Fatal("attached instance: Running() = false")
	}
	if got := adopted.State(); !reflect.DeepEqual(got, st) {
		t.Errorf("attached State = %+v, want %+v", got, st)
	}
	if _, err := newDriver(t).Attach(ctx, back); err != nil {
		t.Fatalf("second Attach: %v (Attach must be repeatable)", err)
	}

	checkAgent(t, adopted, fx)
	if d.Capabilities().Vsock {
		checkAgent(t, inst, fx) // every dial is a new connection
	}
	waitConsole(t, st.ConsoleLog, fx.ReadyMarker, fx.bootTimeout())

	// Graceful shutdown through the adopted instance: the path a restarted
	// daemon takes.
	sctx, cancel := context.WithTimeout(ctx, fx.shutdownTimeout())
	defer cancel()
	began := time.Now()
	if err := adopted.Shutdown(sctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	t.Logf("Shutdown took %v", time.Since(began).Round(time.Millisecond))
	if fx.GracefulMarker != "" {
		if c := readFile(st.ConsoleLog); !strings.Contains(c, fx.GracefulMarker) {
			t.Errorf("Shutdown was not graceful: console lacks %q; tail:\n%s", fx.GracefulMarker, tail(c, 1500))
		}
	}
	checkGone(t, inst, adopted, st)
	if err := adopted.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown: %v, want nil", err)
	}
	if err := inst.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown via the original instance after exit: %v, want nil", err)
	}
	if err := inst.Kill(ctx); err != nil {
		t.Errorf("Kill after exit: %v, want nil", err)
	}
	if _, err := newDriver(t).Attach(ctx, st); !errors.Is(err, vmm.ErrNotRunning) {
		t.Errorf("Attach after exit = %v, want ErrNotRunning", err)
	}
	// A reused PID (same pid, other start time) is not our instance.
	self, _ := vmm.ProcStartTime(os.Getpid())
	reused := st
	reused.PID, reused.PIDStart = os.Getpid(), self+1
	if _, err := newDriver(t).Attach(ctx, reused); !errors.Is(err, vmm.ErrNotRunning) {
		t.Errorf("Attach to a reused PID = %v, want ErrNotRunning", err)
	}
}

func testKill(t *testing.T, newDriver func(t *testing.T) vmm.Driver, fx Fixture) {
	d := newDriver(t)
	requireAvailable(t, d)
	inst := startGuest(t, d, fx)
	st := inst.State()
	ctx := context.Background()
	adopted, err := newDriver(t).Attach(ctx, st)
	if err != nil {
		t.Fatalf("Attach: %v", err)
	}
	kctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := inst.Kill(kctx); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	checkGone(t, inst, adopted, st)
	if err := inst.Kill(kctx); err != nil {
		t.Errorf("second Kill: %v, want nil", err)
	}
	if err := adopted.Kill(kctx); err != nil {
		t.Errorf("Kill via the attached instance after exit: %v, want nil", err)
	}
	if err := adopted.Shutdown(kctx); err != nil {
		t.Errorf("Shutdown after Kill: %v, want nil", err)
	}
	if _, err := newDriver(t).Attach(ctx, st); !errors.Is(err, vmm.ErrNotRunning) {
		t.Errorf("Attach after Kill = %v, want ErrNotRunning", err)
	}
}

func requireAvailable(t *testing.T, d vmm.Driver) {
	t.Helper()
	if err := d.Available(context.Background()); err != nil {
		t.Fatalf("driver %s unavailable: %v", d.Name(), err)
	}
}

// startGuest boots the fixture guest and registers a forced cleanup.
func startGuest(t *testing.T, d vmm.Driver, fx Fixture) vmm.Instance {
	t.Helper()
	spec := fx.Spec(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), fx.bootTimeout())
	defer cancel()
	began := time.Now()
	inst, err := d.Start(ctx, spec)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Logf("Start took %v", time.Since(began).Round(time.Millisecond))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := inst.Kill(ctx); err != nil {
			t.Errorf("cleanup Kill: %v", err)
		}
		if t.Failed() {
			t.Logf("console tail:\n%s", tail(readFile(inst.State().ConsoleLog), 3000))
		}
	})
	return inst
}

// checkGone asserts the process ended, as seen from both instances.
func checkGone(t *testing.T, inst, adopted vmm.Instance, st vmm.State) {
	t.Helper()
	wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := inst.Wait(wctx); err != nil {
		t.Errorf("Wait (started instance) after exit: %v", err)
	}
	if err := adopted.Wait(wctx); err != nil {
		t.Errorf("Wait (attached instance) after exit: %v", err)
	}
	if inst.Running() || adopted.Running() {
		t.Errorf("Running() after exit: started=%v attached=%v", inst.Running(), adopted.Running())
	}
	if vmm.ProcessAlive(st.PID, st.PIDStart) {
		t.Errorf("process %d still alive", st.PID)
	}
}
