package qemu

import (
	"fmt"
	"net"
	"os"

	"banger/internal/vmm"
)

// Spec limits of this driver.
const (
	MinVCPUs     = 1
	MaxVCPUs     = 32
	MinMemoryMiB = 64
	// maxSockPath is the room in sockaddr_un.sun_path (108 bytes with NUL).
	maxSockPath = 107
	// maxIfName is IFNAMSIZ-1.
	maxIfName = 15
)

// Validate checks spec without side effects (it only stats files).
// Errors wrap vmm.ErrInvalidSpec.
func (d *Driver) Validate(spec vmm.Spec) error {
	if err := validate(spec); err != nil {
		return fmt.Errorf("validating spec %q: %w: %s", spec.ID, vmm.ErrInvalidSpec, err)
	}
	return nil
}

type specError string

func (e specError) Error() string { return string(e) }

func invalid(format string, a ...any) error { return specError(fmt.Sprintf(format, a...)) }

func validate(spec vmm.Spec) error {
	if spec.VCPUs < MinVCPUs || spec.VCPUs > MaxVCPUs {
		return invalid("vcpus %d out of range [%d, %d]", spec.VCPUs, MinVCPUs, MaxVCPUs)
	}
	if spec.MemoryMiB < MinMemoryMiB {
		return invalid("memory %d MiB below %d MiB", spec.MemoryMiB, MinMemoryMiB)
	}
	if err := regularFile("kernel", spec.Kernel); err != nil {
		return err
	}
	if spec.Initrd != "" {
		if err := regularFile("initrd", spec.Initrd); err != nil {
			return err
		}
	}
	if spec.RunDir == "" {
		return invalid("no run dir")
	}
	if fi, err := os.Stat(spec.RunDir); err != nil || !fi.IsDir() {
		return invalid("run dir %s is not a directory", spec.RunDir)
	}
	if p := PathsFor(spec.RunDir).AgentSock; len(p) > maxSockPath {
		return invalid("run dir %s too long for unix sockets (%d > %d bytes)", spec.RunDir, len(p), maxSockPath)
	}
	if n := len(spec.Disks) + len(spec.NICs) + 1; n > maxMMIODevices {
		return invalid("%d disks and %d nics exceed microvm's %d virtio-mmio devices (one is the agent port)",
			len(spec.Disks), len(spec.NICs), maxMMIODevices)
	}
	for i, d := range spec.Disks {
		if d.Format != vmm.FormatRaw && d.Format != vmm.FormatQcow2 {
			return invalid("disk %d: unknown format %q", i, d.Format)
		}
		if err := regularFile(fmt.Sprintf("disk %d", i), d.Path); err != nil {
			return err
		}
	}
	for i, n := range spec.NICs {
		if n.Tap == "" || len(n.Tap) > maxIfName {
			return invalid("nic %d: tap name %q empty or longer than %d", i, n.Tap, maxIfName)
		}
		if mac, err := net.ParseMAC(n.MAC); err != nil || len(mac) != 6 {
			return invalid("nic %d: bad mac %q", i, n.MAC)
		}
	}
	return nil
}

// regularFile accepts regular files and block devices (disks may be either).
func regularFile(what, path string) error {
	if path == "" {
		return invalid("no %s path", what)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return invalid("%s: %v", what, err)
	}
	if !fi.Mode().IsRegular() && fi.Mode()&os.ModeDevice == 0 {
		return invalid("%s %s is not a file", what, path)
	}
	return nil
}
