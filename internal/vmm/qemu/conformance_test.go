package qemu_test

import (
	"testing"
	"time"

	"banger/internal/testenv"
	"banger/internal/vmm"
	"banger/internal/vmm/qemu"
	"banger/internal/vmm/vmmtest"
)

// TestConformance boots real microvm guests under TCG (the only accelerator
// that works on the PVM test hosts) and runs the driver suite.
func TestConformance(t *testing.T) {
	if testenv.Short() {
		t.Skip("boots VMs; skipped with -short")
	}
	bin := testenv.RequireBinary(t, "qemu-system-x86_64", "qemu-system-x86")
	guest := buildTestGuest(t)
	raw, qcow2 := makeDisks(t)
	newDriver := func(t *testing.T) vmm.Driver {
		return qemu.New(qemu.Options{Binary: bin, Accel: qemu.AccelTCG, Logger: testLogger(t)})
	}
	vmmtest.Run(t, newDriver, vmmtest.Fixture{
		Spec: func(t *testing.T, runDir string) vmm.Spec {
			return vmm.Spec{
				ID:        "conformance",
				VCPUs:     1,
				MemoryMiB: 256,
				Kernel:    guest.Kernel,
				Initrd:    guest.Initrd,
				Cmdline:   "",
				Disks: []vmm.Disk{
					{Path: raw, Format: vmm.FormatRaw, ReadOnly: true},
					{Path: qcow2, Format: vmm.FormatQcow2, ReadOnly: true},
				},
				RunDir: runDir,
			}
		},
		AgentEcho:       true,
		ReadyMarker:     "banger-test: ready",
		GracefulMarker:  "reboot: Power down",
		BootTimeout:     120 * time.Second,
		ShutdownTimeout: 60 * time.Second,
	})
}
