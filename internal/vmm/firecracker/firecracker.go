// Package firecracker drives the Firecracker VMM (v1.16): it spawns the
// binary, configures the microVM through its HTTP API on a unix socket,
// supervises the process and reaches the guest agent over hybrid vsock.
//
// The API sequence is built by pure functions (ConfigCalls, BootArgs) with
// golden tests; the process side is tested against fcfake, a stand-in that
// is as strict as the real VMM.
package firecracker

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"regexp"
	"time"

	"banger/internal/vmm"
)

// Name is the driver name recorded in vmm.State.Driver.
const Name = "firecracker"

// DefaultAgentPort is the guest vsock port of banger's agent.
const DefaultAgentPort = 1024

// Options configure the driver. The zero value is usable.
type Options struct {
	// Binary is the firecracker executable, a path or a name looked up in
	// PATH (default "firecracker").
	Binary string
	// AgentPort is the guest vsock port DialAgent connects to.
	AgentPort uint32
	// SocketTimeout bounds the wait for the API socket after spawning
	// (default 5s; the real VMM needs 6-60 ms).
	SocketTimeout time.Duration
	// KVMProbe reports whether /dev/kvm can run Firecracker guests; nil
	// uses the host probe (which refuses PVM hosts). Tests inject one.
	KVMProbe func(ctx context.Context) error
	// Logger receives lifecycle events; nil discards them.
	Logger *slog.Logger
}

// Driver implements vmm.Driver for Firecracker.
type Driver struct {
	opts Options
}

var _ vmm.Driver = (*Driver)(nil)

// New returns a driver with defaults filled in.
func New(opts Options) *Driver {
	if opts.Binary == "" {
		opts.Binary = "firecracker"
	}
	if opts.AgentPort == 0 {
		opts.AgentPort = DefaultAgentPort
	}
	if opts.SocketTimeout == 0 {
		opts.SocketTimeout = 5 * time.Second
	}
	if opts.KVMProbe == nil {
		opts.KVMProbe = probeKVM
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Driver{opts: opts}
}

// Name implements vmm.Driver.
func (d *Driver) Name() string { return Name }

// Capabilities implements vmm.Driver: raw disks only, an uncompressed
// kernel, and vsock for the guest channel.
func (d *Driver) Capabilities() vmm.Capabilities {
	return vmm.Capabilities{
		DiskFormats:             []string{vmm.FormatRaw},
		NeedsUncompressedKernel: true,
		Vsock:                   true,
	}
}

// Available implements vmm.Driver: the binary must exist and KVM must be
// usable (Firecracker has no software emulation).
func (d *Driver) Available(ctx context.Context) error {
	if _, err := exec.LookPath(d.opts.Binary); err != nil {
		return fmt.Errorf("%w: firecracker binary %q not found (install Firecracker v1.16 or set its path): %v",
			vmm.ErrUnavailable, d.opts.Binary, err)
	}
	if err := d.opts.KVMProbe(ctx); err != nil {
		return fmt.Errorf("%w: %v", vmm.ErrUnavailable, err)
	}
	return nil
}

// instanceIDRE is Firecracker's validate_instance_id: 1 to 64
// alphanumerics or hyphens.
var instanceIDRE = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)

// maxSunPath is the size of sun_path in struct sockaddr_un, NUL included.
const maxSunPath = 108

// Validate implements vmm.Driver. It reads the first bytes of the kernel
// (no other side effect).
func (d *Driver) Validate(spec vmm.Spec) error {
	invalid := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", vmm.ErrInvalidSpec, fmt.Sprintf(format, a...))
	}
	if !instanceIDRE.MatchString(spec.ID) {
		return invalid("id %q: firecracker needs 1 to 64 letters, digits or '-'", spec.ID)
	}
	if spec.VCPUs < 1 || spec.VCPUs > 32 {
		return invalid("%d vCPUs: firecracker supports 1 to 32", spec.VCPUs)
	}
	if spec.MemoryMiB < 1 {
		return invalid("memory %d MiB: must be positive", spec.MemoryMiB)
	}
	if spec.GuestCID != 0 && spec.GuestCID < 3 {
		return invalid("guest CID %d: must be >= 3", spec.GuestCID)
	}
	if spec.RunDir == "" {
		return invalid("no run directory")
	}
	for _, p := range []string{APISocket(spec.RunDir), VsockSocket(spec.RunDir)} {
		if len(p) >= maxSunPath {
			return invalid("socket path %s is longer than %d bytes: use a shorter run directory", p, maxSunPath-1)
		}
	}
	if spec.Initrd != "" {
		if _, err := os.Stat(spec.Initrd); err != nil {
			return invalid("initrd: %v", err)
		}
	}
	for i, disk := range spec.Disks {
		if disk.Format != vmm.FormatRaw && disk.Format != "" {
			return invalid("disk %d (%s) is %s: firecracker only takes raw disks", i, disk.Path, disk.Format)
		}
		if _, err := os.Stat(disk.Path); err != nil {
			return invalid("disk %d: %v", i, err)
		}
	}
	for i, n := range spec.NICs {
		if n.Tap == "" {
			return invalid("NIC %d has no tap device", i)
		}
		if hw, err := net.ParseMAC(n.MAC); n.MAC != "" && (err != nil || len(hw) != 6) {
			return invalid("NIC %d: MAC %q is not a 6-byte MAC address", i, n.MAC)
		}
	}
	return checkKernel(spec.Kernel)
}

// checkKernel requires an ELF vmlinux: Firecracker on x86_64 does not boot
// a bzImage (it fails at InstanceStart with an ELF magic error).
func checkKernel(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%w: opening kernel: %v", vmm.ErrInvalidSpec, err)
	}
	defer f.Close()
	head := make([]byte, 0x210)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	if bytes.HasPrefix(head, []byte("\x7fELF")) {
		return nil
	}
	// A bzImage carries "HdrS" at 0x202 (Linux boot protocol) and, for
	// EFI stubs, starts with "MZ".
	if bytes.HasPrefix(head, []byte("MZ")) || (len(head) >= 0x206 && string(head[0x202:0x206]) == "HdrS") {
		return fmt.Errorf("%w: kernel %s is a compressed bzImage; firecracker needs an uncompressed vmlinux: re-import it with `banger kernel import`",
			vmm.ErrInvalidSpec, path)
	}
	return fmt.Errorf("%w: kernel %s is not an ELF vmlinux; firecracker needs an uncompressed vmlinux: re-import it with `banger kernel import`",
		vmm.ErrInvalidSpec, path)
}

// errNotRunning wraps vmm.ErrNotRunning with what was checked.
func errNotRunning(format string, a ...any) error {
	return fmt.Errorf("%w: %s", vmm.ErrNotRunning, fmt.Sprintf(format, a...))
}
