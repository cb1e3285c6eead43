package qemu_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"banger/internal/testenv"
	"banger/internal/vmm"
	"banger/internal/vmm/qemu"
)

// TestHelperDaemon is not a test: TestSurvivesDaemonExit re-runs the test
// binary as a short-lived "daemon" that starts a VM, prints its State and
// exits without stopping it.
func TestHelperDaemon(t *testing.T) {
	specJSON := os.Getenv("BANGER_QEMU_HELPER_SPEC")
	if specJSON == "" {
		t.Skip("helper process only")
	}
	var spec vmm.Spec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	inst, err := qemu.New(qemu.Options{Binary: os.Getenv("BANGER_QEMU_HELPER_BIN"), Accel: qemu.AccelTCG}).Start(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(inst.State())
	os.Stdout.Write(append([]byte("STATE "), append(b, '\n')...))
}

// TestSurvivesDaemonExit: a VM outlives the process that started it, and a
// new driver re-adopts it, talks to its agent and shuts it down gracefully.
func TestSurvivesDaemonExit(t *testing.T) {
	if testenv.Short() {
		t.Skip("boots a VM; skipped with -short")
	}
	bin := testenv.RequireBinary(t, "qemu-system-x86_64", "qemu-system-x86")
	guest := buildTestGuest(t)
	spec := vmm.Spec{ID: "adopt", VCPUs: 1, MemoryMiB: 256, Kernel: guest.Kernel,
		Initrd: guest.Initrd, Cmdline: "", RunDir: t.TempDir()}
	specJSON, _ := json.Marshal(spec)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperDaemon$", "-test.v")
	cmd.Env = append(os.Environ(), "BANGER_QEMU_HELPER_SPEC="+string(specJSON), "BANGER_QEMU_HELPER_BIN="+bin)
	out, err := cmd.Output()
	var st vmm.State
	for line := range strings.Lines(string(out)) {
		if rest, ok := strings.CutPrefix(line, "STATE "); ok {
			_ = json.Unmarshal([]byte(rest), &st)
		}
	}
	if st.PID != 0 {
		t.Cleanup(func() { // forced cleanup even if adoption fails
			if vmm.ProcessAlive(st.PID, st.PIDStart) {
				p, _ := os.FindProcess(st.PID)
				_ = p.Kill()
			}
		})
	}
	if err != nil || st.PID == 0 {
		t.Fatalf("helper daemon: %v; output:\n%s", err, out)
	}
	if !vmm.ProcessAlive(st.PID, st.PIDStart) {
		t.Fatalf("qemu pid %d died with the daemon that started it", st.PID)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	inst, err := qemu.New(qemu.Options{Binary: bin, Accel: qemu.AccelTCG}).Attach(ctx, st)
	if err != nil {
		t.Fatalf("Attach: %v", err)
	}
	// The agent port answers through the adopted instance.
	var echoed bool
	for !echoed && ctx.Err() == nil {
		echoed = echoOnce(ctx, inst)
		if !echoed {
			time.Sleep(300 * time.Millisecond)
		}
	}
	if !echoed {
		stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", st.PID))
		stderr, _ := os.ReadFile(filepath.Join(st.RunDir, "qemu.stderr"))
		var status any
		qerr := qemu.QMPDo(context.Background(), st.ControlSock, "query-status", nil, &status)
		t.Fatalf("agent port never echoed; stat %s; status %v %v; stderr %s; console:\n%s",
			stat, status, qerr, stderr, readConsole(st))
	}
	for !strings.Contains(readConsole(st), "banger-test: ready") && ctx.Err() == nil {
		time.Sleep(100 * time.Millisecond)
	}
	if err := inst.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if vmm.ProcessAlive(st.PID, st.PIDStart) {
		t.Fatal("qemu alive after Shutdown")
	}
	if !strings.Contains(readConsole(st), "reboot: Power down") {
		t.Errorf("shutdown not graceful; console:\n%s", readConsole(st))
	}
}

func echoOnce(ctx context.Context, inst vmm.Instance) bool {
	c, err := inst.DialAgent(ctx)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("adopted\n")); err != nil {
		return false
	}
	buf := make([]byte, 64)
	n, _ := c.Read(buf)
	return strings.Contains(string(buf[:n]), "adopted")
}

func readConsole(st vmm.State) string {
	b, _ := os.ReadFile(st.ConsoleLog)
	return string(b)
}
