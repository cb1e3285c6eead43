package doctor

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"strings"

	"banger/internal/config"
)

// Paths doctor reads.
const (
	KVMDevice     = "/dev/kvm"
	procModules   = "/proc/modules"
	sysModulePVM  = "/sys/module/kvm_pvm"
	ipForwardPath = "/proc/sys/net/ipv4/ip_forward"
)

// FileInfo is what doctor needs to know about a path.
type FileInfo struct {
	Mode fs.FileMode
	UID  uint32
}

// Probe is every question doctor asks the host. Implementations must not
// change the host; every method may be called any number of times.
type Probe interface {
	// LookPath resolves a command like exec.LookPath, also trying the sbin
	// directories a root daemon's PATH may lack. Absolute paths are
	// checked as they are.
	LookPath(name string) (string, error)
	// Stat describes path, following symlinks; a missing path gives an
	// error wrapping fs.ErrNotExist.
	Stat(path string) (FileInfo, error)
	// ReadFile returns the contents of a (small) file.
	ReadFile(path string) ([]byte, error)
	// OpenKVM opens the KVM device read-write and returns the answer to
	// KVM_GET_API_VERSION. It creates no VM and returns at once.
	OpenKVM(path string) (apiVersion int, err error)
	// FreeBytes is the space available to the daemon on the filesystem
	// holding path (which must exist).
	FreeBytes(path string) (uint64, error)
	// Version runs `bin --version` and returns the first line it prints.
	// It returns when ctx ends; errors carry the command's stderr.
	Version(ctx context.Context, bin string) (string, error)
	// NFTables lists the nftables tables as "family name" (e.g. "inet
	// banger") over netlink, read-only. It returns when ctx ends.
	NFTables(ctx context.Context) ([]string, error)
}

// KVMStatus is what DetectKVM found.
type KVMStatus struct {
	// Present: the device node exists.
	Present bool
	// APIVersion is KVM_GET_API_VERSION; 0 when the device did not open.
	APIVersion int
	// OpenErr is why the device did not open (nil when it did).
	OpenErr error
	// PVM: the host runs PVM (kvm_pvm module). Its /dev/kvm answers, but
	// only PVM-enabled guest kernels boot; a standard kernel hangs at
	// decompression, so banger treats KVM as unusable.
	PVM bool
}

// Usable reports whether standard guest kernels can run under KVM here.
func (k KVMStatus) Usable() bool {
	return k.Present && k.OpenErr == nil && k.APIVersion == kvmAPIVersion && !k.PVM
}

// kvmAPIVersion is the only KVM API version Linux has ever shipped.
const kvmAPIVersion = 12

// Reason is a short phrase saying why KVM is or is not usable.
func (k KVMStatus) Reason() string {
	switch {
	case !k.Present:
		return KVMDevice + " does not exist"
	case k.OpenErr != nil:
		return fmt.Sprintf("opening %s: %v", KVMDevice, k.OpenErr)
	case k.PVM:
		return "this is a PVM host (kvm_pvm): standard guest kernels hang under its KVM"
	case k.APIVersion != kvmAPIVersion:
		return fmt.Sprintf("%s answers KVM API version %d, want %d", KVMDevice, k.APIVersion, kvmAPIVersion)
	}
	return fmt.Sprintf("%s opens (KVM API %d)", KVMDevice, k.APIVersion)
}

// DetectKVM decides KVM usability from the device and the loaded modules.
// It never boots anything, so it cannot hang.
func DetectKVM(p Probe) KVMStatus {
	var k KVMStatus
	if _, err := p.Stat(KVMDevice); err == nil {
		k.Present = true
		k.APIVersion, k.OpenErr = p.OpenKVM(KVMDevice)
	}
	k.PVM = pvmLoaded(p)
	return k
}

// pvmLoaded looks for kvm_pvm in /proc/modules, and in /sys/module for
// kernels without /proc/modules (as on the project's machines).
func pvmLoaded(p Probe) bool {
	if data, err := p.ReadFile(procModules); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			if name, _, _ := strings.Cut(sc.Text(), " "); name == "kvm_pvm" {
				return true
			}
		}
	}
	_, err := p.Stat(sysModulePVM)
	return err == nil
}

// ChooseVMM applies the config's driver and accelerator choice to this
// host. driver "auto" picks firecracker when its binary is found AND KVM is
// usable, else qemu; accel "auto" picks kvm when usable, else tcg
// (firecracker always runs with kvm). why explains the choice in a phrase.
// An explicit choice is returned as configured even when it cannot run:
// Run's report says whether it can.
func ChooseVMM(cfg config.Config, p Probe) (driver, accel, why string) {
	return chooseVMM(cfg, p, DetectKVM(p))
}

func chooseVMM(cfg config.Config, p Probe, k KVMStatus) (driver, accel, why string) {
	driver = cfg.VMM.Driver
	switch driver {
	case config.Firecracker, config.QEMU:
		why = "vmm.driver = " + driver
	default:
		_, fcErr := p.LookPath(cfg.VMM.Firecracker)
		switch {
		case fcErr == nil && k.Usable():
			driver, why = config.Firecracker, "firecracker found and KVM usable"
		case fcErr != nil:
			driver, why = config.QEMU, cfg.VMM.Firecracker+" not found"
		default:
			driver, why = config.QEMU, "KVM unusable: "+k.Reason()
		}
	}
	accel = accelFor(cfg, driver, k)
	if cfg.VMM.Accel == config.Auto && driver == config.QEMU {
		why += "; accel " + accel + " because " + k.Reason()
	}
	return driver, accel, why
}

func accelFor(cfg config.Config, driver string, k KVMStatus) string {
	switch {
	case driver == config.Firecracker:
		return config.KVM
	case cfg.VMM.Accel != config.Auto:
		return cfg.VMM.Accel
	case k.Usable():
		return config.KVM
	}
	return config.TCG
}
