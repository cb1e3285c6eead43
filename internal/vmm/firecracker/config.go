package firecracker

import (
	"fmt"
	"path/filepath"

	"banger/internal/vmm"
)

// Files of an instance inside spec.RunDir.
const (
	apiSockName   = "fc.sock"
	vsockName     = "v.sock"
	consoleName   = "console.log"
	defaultCID    = 3
	rootDriveID   = "rootfs"
	machineFields = "console=ttyS0 reboot=k panic=1 pci=off"
)

// Call is one Firecracker API request of the boot sequence.
type Call struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Body   any    `json:"body"`
}

type machineConfig struct {
	VcpuCount  int  `json:"vcpu_count"`
	MemSizeMib int  `json:"mem_size_mib"`
	Smt        bool `json:"smt"`
}

type bootSource struct {
	KernelImagePath string `json:"kernel_image_path"`
	InitrdPath      string `json:"initrd_path,omitempty"`
	BootArgs        string `json:"boot_args"`
}

type drive struct {
	DriveID      string `json:"drive_id"`
	PathOnHost   string `json:"path_on_host"`
	IsRootDevice bool   `json:"is_root_device"`
	IsReadOnly   bool   `json:"is_read_only"`
}

type networkInterface struct {
	IfaceID     string `json:"iface_id"`
	HostDevName string `json:"host_dev_name"`
	GuestMAC    string `json:"guest_mac,omitempty"`
}

type vsockDevice struct {
	GuestCID uint32 `json:"guest_cid"`
	UDSPath  string `json:"uds_path"`
}

type action struct {
	ActionType string `json:"action_type"`
}

// BootArgs is the guest kernel command line. Firecracker's boot_args
// replaces its default line rather than extending it, so the parts the
// machine needs (serial console, reset on reboot so Ctrl-Alt-Del ends the
// VMM, no PCI probing) are always spelled out before the portable cmdline.
func BootArgs(cmdline string) string {
	if cmdline == "" {
		return machineFields
	}
	return machineFields + " " + cmdline
}

// APISocket, VsockSocket and ConsoleLog are the paths an instance uses.
func APISocket(runDir string) string   { return filepath.Join(runDir, apiSockName) }
func VsockSocket(runDir string) string { return filepath.Join(runDir, vsockName) }
func ConsoleLog(runDir string) string  { return filepath.Join(runDir, consoleName) }

// driveID names disk i: the root disk "rootfs", others "disk1", "disk2"...
// (Firecracker ids allow only alphanumerics and '_').
func driveID(i int) string {
	if i == 0 {
		return rootDriveID
	}
	return fmt.Sprintf("disk%d", i)
}

// ConfigCalls is the API sequence that configures and boots spec, ending
// with InstanceStart. It is a pure function of the spec.
func ConfigCalls(spec vmm.Spec) []Call {
	calls := []Call{
		{"PUT", "/machine-config", machineConfig{VcpuCount: spec.VCPUs, MemSizeMib: spec.MemoryMiB}},
		{"PUT", "/boot-source", bootSource{
			KernelImagePath: spec.Kernel,
			InitrdPath:      spec.Initrd,
			BootArgs:        BootArgs(spec.Cmdline),
		}},
	}
	for i, d := range spec.Disks {
		id := driveID(i)
		calls = append(calls, Call{"PUT", "/drives/" + id, drive{
			DriveID: id, PathOnHost: d.Path, IsRootDevice: i == 0, IsReadOnly: d.ReadOnly,
		}})
	}
	for i, n := range spec.NICs {
		id := fmt.Sprintf("eth%d", i)
		calls = append(calls, Call{"PUT", "/network-interfaces/" + id, networkInterface{
			IfaceID: id, HostDevName: n.Tap, GuestMAC: n.MAC,
		}})
	}
	cid := spec.GuestCID
	if cid == 0 {
		// Each Firecracker VM has its own vsock device behind a unix
		// socket, so the CID need not be unique on the host.
		cid = defaultCID
	}
	calls = append(calls,
		Call{"PUT", "/vsock", vsockDevice{GuestCID: cid, UDSPath: VsockSocket(spec.RunDir)}},
		Call{"PUT", "/actions", action{ActionType: "InstanceStart"}},
	)
	return calls
}

// Argv is the VMM command line (without the binary).
func Argv(spec vmm.Spec) []string {
	return []string{"--api-sock", APISocket(spec.RunDir), "--id", spec.ID}
}
