package firecracker

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// kvmGetAPIVersion is KVM_GET_API_VERSION, _IO(0xAE, 0x00).
const kvmGetAPIVersion = 0xAE00

// probeKVM checks /dev/kvm without starting a guest: it must open, answer
// KVM_GET_API_VERSION with 12, and the host must not be a PVM host
// ("kvm_pvm" in /proc/modules), where standard guest kernels hang.
func probeKVM(context.Context) error {
	fd, err := unix.Open("/dev/kvm", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening /dev/kvm: %w (load kvm_intel/kvm_amd and give this user access)", err)
	}
	defer unix.Close(fd)
	v, err := unix.IoctlRetInt(fd, kvmGetAPIVersion)
	if err != nil {
		return fmt.Errorf("querying /dev/kvm API version: %w", err)
	}
	if v != 12 {
		return fmt.Errorf("/dev/kvm API version %d, want 12", v)
	}
	pvm, err := hasModule("/proc/modules", "kvm_pvm")
	if err != nil {
		return err
	}
	if pvm {
		return fmt.Errorf("/dev/kvm is backed by kvm_pvm (a PVM host): firecracker guests do not boot here; use the qemu driver")
	}
	return nil
}

// hasModule reports whether the modules list at path names module.
func hasModule(path, module string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("reading %s: %w", path, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if name, _, _ := strings.Cut(sc.Text(), " "); name == module {
			return true, nil
		}
	}
	if err := sc.Err(); err != nil {
		return false, fmt.Errorf("reading %s: %w", path, err)
	}
	return false, nil
}
