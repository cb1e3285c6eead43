// Package record holds the records banger keeps about kernels, images, VMs,
// address leases and host objects, and the sentinel errors of looking them
// up. It has no dependencies, so the lifecycle (internal/vm) can use the
// records without linking the SQLite store that persists them.
package record

import (
	"errors"
	"net/netip"
	"time"
)

// Sentinel errors; callers check with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("already exists")
	// ErrExhausted: no free address is left in the subnet.
	ErrExhausted = errors.New("address pool exhausted")
)

// VM states.
const (
	VMCreating = "creating" // resources being acquired; not yet booted
	VMRunning  = "running"
	VMStopped  = "stopped"
	VMError    = "error"
)

// Kernel is an imported guest kernel.
type Kernel struct {
	ID         string
	Name       string
	Path       string // kernel image as stored under the state dir
	Vmlinux    string // uncompressed ELF vmlinux, when extracted ("" if not)
	Initrd     string
	ModulesDir string
	Version    string
	CreatedAt  time.Time
}

// Image is a root filesystem image.
type Image struct {
	ID        string
	Name      string
	Path      string // raw ext4 image file
	SizeBytes int64
	InputHash string // cache key of the inputs that built it
	KernelID  string // kernel it was built for ("" if any)
	CreatedAt time.Time
}

// VM is one banger VM. Runtime holds the JSON of vmm.State while running.
type VM struct {
	ID            string
	Name          string
	State         string
	ImageID       string
	KernelID      string
	VCPUs         int
	MemoryMiB     int
	DiskSizeBytes int64
	VMM           string // driver name
	IP            netip.Addr
	MAC           string
	Tap           string
	RunDir        string
	Runtime       []byte // JSON vmm.State, nil when not running
	LastError     string
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Lease is one IP address held by one VM.
type Lease struct {
	Addr      netip.Addr
	VMID      string
	CreatedAt time.Time
}

// HostObject is one thing banger created on the host (bridge, tap, nftables
// table, ...). It is recorded before it is created and forgotten after it is
// removed, so teardown never guesses names.
type HostObject struct {
	Kind      string // "bridge", "tap", "nftables-table", ...
	Name      string
	Owner     string // VM id, or "" for shared objects
	CreatedAt time.Time
}
