package qemu_test

import (
	"context"
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

// TestNICInNetns boots with a virtio-net-device on a tap that lives in a
// network namespace made for this test (never the machine's own), proving
// QEMU 7.2 accepts the -netdev/-device arguments and the VM runs with them.
func TestNICInNetns(t *testing.T) {
	if testenv.Short() {
		t.Skip("boots a VM; skipped with -short")
	}
	testenv.RequireRoot(t)
	ipBin := testenv.RequireBinary(t, "ip", "iproute2")
	bin := testenv.RequireBinary(t, "qemu-system-x86_64", "qemu-system-x86")
	guest := buildTestGuest(t)

	ns := fmt.Sprintf("banger-qemu-%d", os.Getpid())
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(ipBin, args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	run("netns", "add", ns)
	t.Cleanup(func() { _ = exec.Command(ipBin, "netns", "del", ns).Run() })
	run("-n", ns, "tuntap", "add", "bgtap0", "mode", "tap")

	// The wrapper execs QEMU inside the namespace under the same PID.
	wrapper := filepath.Join(t.TempDir(), "qemu-in-netns")
	script := fmt.Sprintf("#!/bin/sh\nexec %s netns exec %s %s \"$@\"\n", ipBin, ns, bin)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	d := qemu.New(qemu.Options{Binary: wrapper, Accel: qemu.AccelTCG, Logger: testLogger(t)})
	spec := vmm.Spec{ID: "nic", VCPUs: 1, MemoryMiB: 256, Kernel: guest.Kernel, Initrd: guest.Initrd,
		Cmdline: "", NICs: []vmm.NetIf{{Tap: "bgtap0", MAC: "52:54:00:aa:bb:01"}}, RunDir: t.TempDir()}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	inst, err := d.Start(ctx, spec)
	if err != nil {
		t.Fatalf("Start with a NIC: %v", err)
	}
	t.Cleanup(func() { _ = inst.Kill(context.Background()) })
	if !inst.Running() {
		t.Fatal("not running after Start")
	}
	// QEMU itself reports the tap backend and the NIC wired to it.
	var info string
	err = qemu.QMPDo(ctx, inst.State().ControlSock, "human-monitor-command",
		map[string]string{"command-line": "info network"}, &info)
	if err != nil {
		t.Fatalf("info network: %v", err)
	}
	t.Logf("info network: %s", info)
	for _, want := range []string{"ifname=bgtap0", "52:54:00:aa:bb:01"} {
		if !strings.Contains(info, want) {
			t.Errorf("info network lacks %q:\n%s", want, info)
		}
	}
	if err := inst.Kill(ctx); err != nil {
		t.Fatalf("Kill: %v", err)
	}
}
