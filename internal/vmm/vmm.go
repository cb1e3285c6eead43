// Package vmm is the contract between banger's VM lifecycle and the virtual
// machine monitors that run guests (Firecracker, QEMU microvm).
//
// The lifecycle code (internal/vm) only ever sees these interfaces; concrete
// drivers live in sub-packages and prove they implement them at compile time.
// Every driver must pass the conformance suite in internal/vmm/vmmtest.
package vmm

import (
	"context"
	"errors"
	"net"
)

// Sentinel errors. Drivers wrap them; callers check with errors.Is.
var (
	// ErrNotRunning: the instance's process is gone (or never started).
	ErrNotRunning = errors.New("vmm: instance not running")
	// ErrUnavailable: the driver cannot run on this host (binary missing,
	// accelerator unusable, ...). The wrapped message says what to do.
	ErrUnavailable = errors.New("vmm: driver unavailable")
	// ErrInvalidSpec: the spec cannot be booted by this driver (e.g. a
	// compressed bzImage given to Firecracker, vCPUs out of range).
	ErrInvalidSpec = errors.New("vmm: invalid spec")
)

// Disk formats a driver may accept.
const (
	FormatRaw   = "raw"
	FormatQcow2 = "qcow2"
)

// Disk is one block device of the guest, in attach order (vda, vdb, ...).
type Disk struct {
	Path     string `json:"path"`
	Format   string `json:"format"` // FormatRaw or FormatQcow2
	ReadOnly bool   `json:"read_only,omitempty"`
}

// NetIf is one guest NIC backed by an existing host tap device.
type NetIf struct {
	Tap string `json:"tap"`
	MAC string `json:"mac"` // "52:54:00:xx:xx:xx"
}

// Spec describes a VM to boot. It is plain data: builders turn it into a
// QEMU argv or Firecracker API calls as pure functions.
type Spec struct {
	// ID is banger's stable VM id; drivers use it for --id, log tags.
	ID        string `json:"id"`
	VCPUs     int    `json:"vcpus"`
	MemoryMiB int    `json:"memory_mib"`
	Kernel    string `json:"kernel"`           // path to the kernel image
	Initrd    string `json:"initrd,omitempty"` // optional path
	// Cmdline is the portable part of the kernel command line (root=, ip=,
	// ...). Drivers append what their machine needs (console device, etc.).
	Cmdline string  `json:"cmdline"`
	Disks   []Disk  `json:"disks"` // Disks[0] is the root disk
	NICs    []NetIf `json:"nics"`
	// RunDir is a directory owned by this instance for sockets, the console
	// log and the pid file. It exists before Start and is removed by the
	// caller after the instance is gone.
	RunDir string `json:"run_dir"`
	// GuestCID is the vsock context id (>= 3) where the driver uses vsock.
	GuestCID uint32 `json:"guest_cid,omitempty"`
}

// State is what a running instance needs recorded so that a later daemon can
// re-adopt it with Driver.Attach. It is JSON-serialisable and stored as-is.
type State struct {
	Driver string `json:"driver"`
	Accel  string `json:"accel,omitempty"` // "kvm", "tcg"
	PID    int    `json:"pid"`
	// PIDStart is the process start time (clock ticks since boot, field 22 of
	// /proc/PID/stat); it guards against PID reuse after a host reboot.
	PIDStart    uint64 `json:"pid_start"`
	ControlSock string `json:"control_sock,omitempty"` // Firecracker API / QMP
	ConsoleLog  string `json:"console_log"`
	AgentSock   string `json:"agent_sock,omitempty"` // vsock uds / serial chardev
	RunDir      string `json:"run_dir"`
}

// Capabilities are the optional features of a driver. Feature flags replace
// `if name == "qemu"` in callers.
type Capabilities struct {
	// DiskFormats lists accepted disk formats (first is preferred).
	DiskFormats []string
	// NeedsUncompressedKernel: the kernel must be an ELF vmlinux.
	NeedsUncompressedKernel bool
	// Vsock: the guest channel is virtio-vsock (else a virtio-serial port).
	Vsock bool
}

// Driver starts instances of one VMM.
type Driver interface {
	// Name is the stable driver name ("qemu", "firecracker").
	Name() string
	// Capabilities is constant for the driver's lifetime.
	Capabilities() Capabilities
	// Available reports whether this driver can run here; an error wraps
	// ErrUnavailable and says what to install or fix. It has no side effects.
	Available(ctx context.Context) error
	// Validate checks a spec without side effects; errors wrap ErrInvalidSpec.
	Validate(spec Spec) error
	// Start boots a new instance and returns once the VMM process runs the
	// guest (not when the guest is ready). On error nothing is left running
	// and no file is left in spec.RunDir except the console log.
	// Not idempotent: a second Start with the same RunDir fails.
	Start(ctx context.Context, spec Spec) (Instance, error)
	// Attach re-adopts an instance a previous daemon started, from its
	// recorded state. If the process is gone (or the PID was reused) it
	// returns an error wrapping ErrNotRunning. Safe to call repeatedly.
	Attach(ctx context.Context, st State) (Instance, error)
}

// Instance is one running (or ended) VMM process.
type Instance interface {
	// State is the record to persist for Attach. Constant after Start.
	State() State
	// Running reports whether the VMM process is alive.
	Running() bool
	// Shutdown asks the guest to power off (ACPI powerdown / Ctrl-Alt-Del)
	// and waits until the process exits or ctx ends; then it kills the
	// process. Returns nil once the process is gone. Idempotent: on an ended
	// instance it returns nil.
	Shutdown(ctx context.Context) error
	// Kill ends the process at once (SIGKILL) and waits for it to go.
	// Idempotent: on an ended instance it returns nil.
	Kill(ctx context.Context) error
	// Wait blocks until the process exits or ctx ends.
	Wait(ctx context.Context) error
	// DialAgent opens a stream to the guest agent's channel. With vsock each
	// call is a new connection; with a serial port there is exactly one
	// stream at a time (callers multiplex on top). It may fail while the
	// guest is booting: callers retry.
	DialAgent(ctx context.Context) (net.Conn, error)
}
