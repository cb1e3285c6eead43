package vmm

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

func TestProcStartTimeSelf(t *testing.T) {
	start, err := ProcStartTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if start == 0 {
		t.Fatal("start time of this process is 0")
	}
	if !ProcessAlive(os.Getpid(), start) {
		t.Fatal("ProcessAlive(self) = false")
	}
	if ProcessAlive(os.Getpid(), start+1) {
		t.Fatal("ProcessAlive with another start time = true, want false (PID reuse guard)")
	}
}

func TestProcessAliveChildLifecycle(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	start, err := ProcStartTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	if !ProcessAlive(pid, start) {
		t.Fatal("running child not alive")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	// Until reaped the child is a zombie, which must not count as alive.
	deadline := time.Now().Add(5 * time.Second)
	for ProcessAlive(pid, start) {
		if time.Now().After(deadline) {
			t.Fatal("killed, unreaped child (zombie) still counts as alive")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = cmd.Wait()
	if ProcessAlive(pid, start) {
		t.Fatal("reaped child still alive")
	}
	if _, err := ProcStartTime(pid); err == nil {
		t.Fatal("ProcStartTime of reaped child succeeded")
	}
}

func TestProcInvalidPID(t *testing.T) {
	if ProcessAlive(0, 0) || ProcessAlive(-1, 0) {
		t.Fatal("non-positive pid alive")
	}
	if _, err := ProcStartTime(0); err == nil {
		t.Fatal("ProcStartTime(0) succeeded")
	}
}
