package firecracker

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"banger/internal/vmm"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("reading golden file (run with -update to create): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func goldenSpec() vmm.Spec {
	return vmm.Spec{
		ID:        "vm-golden",
		VCPUs:     2,
		MemoryMiB: 1024,
		Kernel:    "/var/lib/banger/kernels/k1/vmlinux",
		Initrd:    "/var/lib/banger/kernels/k1/initrd.img",
		Cmdline:   "root=/dev/vda rw ip=10.0.0.2::10.0.0.1:255.255.255.0::eth0:off",
		Disks: []vmm.Disk{
			{Path: "/var/lib/banger/vms/vm-golden/root.img", Format: vmm.FormatRaw},
			{Path: "/var/lib/banger/images/tools.img", Format: vmm.FormatRaw, ReadOnly: true},
		},
		NICs:     []vmm.NetIf{{Tap: "bgr-tap0", MAC: "52:54:00:12:34:56"}},
		RunDir:   "/run/banger/vm-golden",
		GuestCID: 7,
	}
}

func TestConfigCallsGolden(t *testing.T) {
	calls := ConfigCalls(goldenSpec())
	got, err := json.MarshalIndent(calls, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "config_calls.golden.json", append(got, '\n'))
	argv, _ := json.Marshal(Argv(goldenSpec()))
	golden(t, "argv.golden.json", append(argv, '\n'))
}

func TestConfigCallsMinimal(t *testing.T) {
	spec := vmm.Spec{ID: "x", VCPUs: 1, MemoryMiB: 128, Kernel: "/k", RunDir: "/r"}
	calls := ConfigCalls(spec)
	var paths []string
	for _, c := range calls {
		paths = append(paths, c.Method+" "+c.Path)
	}
	want := []string{"PUT /machine-config", "PUT /boot-source", "PUT /vsock", "PUT /actions"}
	if len(paths) != len(want) {
		t.Fatalf("calls %v, want %v", paths, want)
	}
	for i := range want {
		if paths[i] != want[i] {
			t.Fatalf("calls %v, want %v", paths, want)
		}
	}
	if v := calls[2].Body.(vsockDevice); v.GuestCID != defaultCID || v.UDSPath != "/r/v.sock" {
		t.Fatalf("vsock body %+v", v)
	}
	if b := calls[1].Body.(bootSource); b.BootArgs != machineFields || b.InitrdPath != "" {
		t.Fatalf("boot-source body %+v", b)
	}
}
