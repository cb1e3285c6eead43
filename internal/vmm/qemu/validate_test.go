package qemu

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"banger/internal/vmm"
)

// The suite (vmmtest) covers the generic rules; these are microvm's own.
func TestValidateDriverLimits(t *testing.T) {
	dir := t.TempDir()
	kernel := filepath.Join(dir, "vmlinuz")
	if err := os.WriteFile(kernel, []byte("k"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := vmm.Spec{VCPUs: 1, MemoryMiB: 64, Kernel: kernel, RunDir: dir}
	d := New(Options{})
	if err := d.Validate(good); err != nil {
		t.Fatalf("Validate(good) = %v", err)
	}
	long := filepath.Join(dir, strings.Repeat("d", 100))
	if err := os.Mkdir(long, 0o755); err != nil {
		t.Fatal(err)
	}
	bad := map[string]func(*vmm.Spec){
		"33 vcpus":         func(s *vmm.Spec) { s.VCPUs = MaxVCPUs + 1 },
		"63 MiB":           func(s *vmm.Spec) { s.MemoryMiB = MinMemoryMiB - 1 },
		"kernel is a dir":  func(s *vmm.Spec) { s.Kernel = dir },
		"run dir too long": func(s *vmm.Spec) { s.RunDir = long },
		"tap name too long": func(s *vmm.Spec) {
			s.NICs = []vmm.NetIf{{Tap: "tap-name-longer-than-15", MAC: "52:54:00:00:00:01"}}
		},
		"eui64 mac": func(s *vmm.Spec) {
			s.NICs = []vmm.NetIf{{Tap: "tap0", MAC: "52:54:00:00:00:00:00:01"}}
		},
		"too many devices": func(s *vmm.Spec) {
			for range maxMMIODevices {
				s.Disks = append(s.Disks, vmm.Disk{Path: kernel, Format: vmm.FormatRaw})
			}
		},
	}
	for name, mutate := range bad {
		s := good
		mutate(&s)
		if err := d.Validate(s); !errors.Is(err, vmm.ErrInvalidSpec) {
			t.Errorf("Validate(%s) = %v, want ErrInvalidSpec", name, err)
		}
	}
	s := good
	for range maxMMIODevices - 1 {
		s.Disks = append(s.Disks, vmm.Disk{Path: kernel, Format: vmm.FormatRaw})
	}
	if err := d.Validate(s); err != nil {
		t.Errorf("Validate(%d disks + agent port) = %v, want nil", maxMMIODevices-1, err)
	}
}
