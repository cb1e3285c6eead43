package qemu

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"banger/internal/vmm"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// TestBuildArgsGolden pins the argv; one argument per line in the golden
// file. Regenerate with `go test -run Golden -update` and review the diff.
func TestBuildArgsGolden(t *testing.T) {
	cases := map[string]struct {
		spec  vmm.Spec
		accel string
	}{
		"tcg_full": {accel: AccelTCG, spec: vmm.Spec{
			ID: "vm-1", VCPUs: 2, MemoryMiB: 1024,
			Kernel: "/k/vmlinuz", Initrd: "/k/initrd.img",
			Cmdline: "root=/dev/vda rw ip=10.0.0.2::10.0.0.1:255.255.255.0::eth0:off",
			Disks: []vmm.Disk{
				{Path: "/img/root.qcow2", Format: vmm.FormatQcow2},
				{Path: "/img/a,b.raw", Format: vmm.FormatRaw, ReadOnly: true},
			},
			NICs:   []vmm.NetIf{{Tap: "bg-tap0", MAC: "52:54:00:12:34:56"}},
			RunDir: "/run/banger/vm-1",
		}},
		"kvm_minimal": {accel: AccelKVM, spec: vmm.Spec{
			VCPUs: 1, MemoryMiB: 128, Kernel: "/k/vmlinuz",
			Cmdline: "console=ttyS0 panic=1", RunDir: "/r",
		}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got := strings.Join(BuildArgs(c.spec, c.accel, PathsFor(c.spec.RunDir)), "\n") + "\n"
			path := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("reading golden (run with -update to create): %v", err)
			}
			if got != string(want) {
				t.Errorf("argv differs from %s:\n--- got\n%s--- want\n%s", path, got, want)
			}
		})
	}
}

func TestKernelCmdline(t *testing.T) {
	cases := map[string]string{
		"":                            "console=ttyS0 panic=-1",
		"root=/dev/vda  rw":           "root=/dev/vda rw console=ttyS0 panic=-1",
		"console=ttyS0 panic=5 quiet": "console=ttyS0 panic=5 quiet",
		"console=hvc0":                "console=hvc0 console=ttyS0 panic=-1",
	}
	for in, want := range cases {
		if got := KernelCmdline(in); got != want {
			t.Errorf("KernelCmdline(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestBuildArgsNeverNodefaults guards a measured pitfall: -nodefaults
// removes microvm's serial port and the console stays empty.
func TestBuildArgsNeverNodefaults(t *testing.T) {
	spec := vmm.Spec{VCPUs: 1, MemoryMiB: 64, Kernel: "/k", RunDir: "/r"}
	for _, accel := range []string{AccelTCG, AccelKVM} {
		args := BuildArgs(spec, accel, PathsFor("/r"))
		for _, a := range args {
			if a == "-nodefaults" || a == "-daemonize" {
				t.Errorf("%s argv holds %s", accel, a)
			}
		}
	}
}
