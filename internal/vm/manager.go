// Package vm is the VM lifecycle: create, start, stop, kill, remove and the
// start-up reconciliation of a daemon. Every operation is a list of steps
// with rollback, so a failure leaves nothing half-created. It works only
// against interfaces: the store, the host network, disk cloning, the
// readiness probe and the VMM drivers are injected by the daemon.
package vm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"banger/internal/record"
	"banger/internal/vmm"
)

// Store is what the lifecycle needs from persistence.
type Store interface {
	CreateVM(ctx context.Context, v *record.VM) error
	GetVM(ctx context.Context, idOrName string) (*record.VM, error)
	ListVMs(ctx context.Context) ([]record.VM, error)
	UpdateVM(ctx context.Context, v *record.VM) error
	DeleteVM(ctx context.Context, id string) error
	AllocateLease(ctx context.Context, vmID string, subnet netip.Prefix, reserved ...netip.Addr) (netip.Addr, error)
	ReleaseLease(ctx context.Context, vmID string) error
	GetImage(ctx context.Context, idOrName string) (*record.Image, error)
	ListImages(ctx context.Context) ([]record.Image, error)
	GetKernel(ctx context.Context, idOrName string) (*record.Kernel, error)
	ListKernels(ctx context.Context) ([]record.Kernel, error)
}

// Network is the host-network part the lifecycle uses (hostnet.Network).
type Network interface {
	// EnsureBridge and EnsureFirewall are idempotent.
	EnsureBridge(ctx context.Context) error
	EnsureFirewall(ctx context.Context) error
	// EnsureTap is idempotent; DeleteTap of a missing tap returns nil.
	EnsureTap(ctx context.Context, name, owner string) error
	DeleteTap(ctx context.Context, name string) error
}

// Disks clones root disks in O(1) of the image size (internal/disk).
type Disks interface {
	// Clone makes dst from src in one of formats, at least size bytes, and
	// returns the format used.
	Clone(ctx context.Context, src, dst string, formats []string, size int64) (string, error)
}

// ReadyProbe waits until a booted guest is ready for use.
type ReadyProbe interface {
	// Wait returns nil once the guest of VM id at addr (running as inst) is
	// ready, or an error when ctx ends first.
	Wait(ctx context.Context, id string, addr netip.Addr, inst vmm.Instance) error
}

// Options configure a Manager.
type Options struct {
	StateDir      string // VM dirs live in StateDir/vms/<id>
	Subnet        netip.Prefix
	Gateway       netip.Addr
	DNS           netip.Addr // zero for none
	DefaultDriver string
	ReadyTimeout  time.Duration // create/start: boot to ready
	StopTimeout   time.Duration // graceful shutdown before kill
}

// Manager runs the lifecycle of all VMs of one daemon.
type Manager struct {
	opts    Options
	store   Store
	net     Network
	disks   Disks
	ready   ReadyProbe
	drivers map[string]vmm.Driver
	log     *slog.Logger

	mu        sync.Mutex
	instances map[string]vmm.Instance // by VM id, running only
	agents    map[string]*agentConn   // by VM id
	busy      map[string]bool         // VM ids with an operation in flight
}

// New returns a Manager. drivers maps driver name to driver. A nil ready
// probe means "ready when the guest agent answers ping".
func New(opts Options, st Store, nw Network, disks Disks, ready ReadyProbe, drivers map[string]vmm.Driver, log *slog.Logger) *Manager {
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 3 * time.Minute
	}
	if opts.StopTimeout == 0 {
		opts.StopTimeout = 30 * time.Second
	}
	m := &Manager{
		opts: opts, store: st, net: nw, disks: disks, ready: ready,
		drivers: drivers, log: log,
		instances: map[string]vmm.Instance{},
		agents:    map[string]*agentConn{},
		busy:      map[string]bool{},
	}
	if m.ready == nil {
		m.ready = agentProbe{m}
	}
	return m
}

// Sentinel errors of the lifecycle, checked with errors.Is.
var (
	ErrInvalid = errors.New("invalid request")
	ErrBusy    = errors.New("another operation is in progress on this VM")
	ErrState   = errors.New("VM is in the wrong state")
)

func (m *Manager) driver(name string) (vmm.Driver, error) {
	if name == "" {
		name = m.opts.DefaultDriver
	}
	d, ok := m.drivers[name]
	if !ok {
		return nil, fmt.Errorf("%w: unknown VMM %q (known: %v)", ErrInvalid, name, m.driverNames())
	}
	return d, nil
}

func (m *Manager) driverNames() []string {
	var names []string
	for n := range m.drivers {
		names = append(names, n)
	}
	return names
}

// lock marks a VM busy; the returned func releases it.
func (m *Manager) lock(id string) (func(), error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.busy[id] {
		return nil, ErrBusy
	}
	m.busy[id] = true
	return func() {
		m.mu.Lock()
		delete(m.busy, id)
		m.mu.Unlock()
	}, nil
}

func (m *Manager) instance(id string) vmm.Instance {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.instances[id]
}

func (m *Manager) setInstance(id string, inst vmm.Instance) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if inst == nil {
		delete(m.instances, id)
		return
	}
	m.instances[id] = inst
}
