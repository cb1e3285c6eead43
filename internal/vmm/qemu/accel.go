package qemu

import (
	"bytes"
	"fmt"
	"os"

	"banger/internal/vmm"
)

// Accel settings of Options.Accel.
const (
	AccelAuto = "auto"
)

// AccelProbe answers the host questions behind the accelerator choice.
// Tests inject fakes; HostProbe asks the real host.
type AccelProbe interface {
	// PVMHost reports a PVM host (kvm_pvm module): standard guest kernels
	// hang at decompression under KVM there, so auto must pick TCG.
	PVMHost() bool
	// KVMUsable reports whether /dev/kvm can be opened read-write.
	KVMUsable() bool
}

// HostProbe probes the running host. It never starts a VM, so it cannot
// hang the way a trial KVM boot does on a PVM host.
type HostProbe struct{}

// PVMHost looks for the kvm_pvm module in sysfs and /proc/modules.
func (HostProbe) PVMHost() bool {
	if _, err := os.Stat("/sys/module/kvm_pvm"); err == nil {
		return true
	}
	b, err := os.ReadFile("/proc/modules")
	return err == nil && bytes.Contains(b, []byte("kvm_pvm "))
}

// KVMUsable opens /dev/kvm read-write and closes it.
func (HostProbe) KVMUsable() bool {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return false
	}
	_ = f.Close()
	return true
}

// ChooseAccel resolves an Options.Accel setting to "kvm" or "tcg".
// auto (or "") picks kvm only on a usable, non-PVM KVM host. An explicit
// kvm that cannot work fails with vmm.ErrUnavailable rather than hanging.
func ChooseAccel(setting string, p AccelProbe) (string, error) {
	switch setting {
	case AccelTCG:
		return AccelTCG, nil
	case "", AccelAuto:
		if p.PVMHost() || !p.KVMUsable() {
			return AccelTCG, nil
		}
		return AccelKVM, nil
	case AccelKVM:
		if !p.KVMUsable() {
			return "", fmt.Errorf("choosing accelerator: %w: /dev/kvm cannot be opened read-write (load kvm, add the user to group kvm, or use accel tcg)", vmm.ErrUnavailable)
		}
		if p.PVMHost() {
			return "", fmt.Errorf("choosing accelerator: %w: this is a PVM host (kvm_pvm) where standard guest kernels hang under kvm; use accel tcg or auto", vmm.ErrUnavailable)
		}
		return AccelKVM, nil
	default:
		return "", fmt.Errorf("choosing accelerator: %w: unknown accel %q (want auto, kvm or tcg)", vmm.ErrUnavailable, setting)
	}
}
