package vm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"banger/internal/record"
	"banger/internal/vmm"
)

// memStore is an in-memory Store with the real store's contract for the
// calls the lifecycle makes.
type memStore struct {
	mu      sync.Mutex
	n       int
	vms     map[string]record.VM
	leases  map[string]netip.Addr // vm id -> addr
	images  map[string]record.Image
	kernels map[string]record.Kernel
}

func newMemStore() *memStore {
	return &memStore{vms: map[string]record.VM{}, leases: map[string]netip.Addr{}, images: map[string]record.Image{}, kernels: map[string]record.Kernel{}}
}

func (s *memStore) CreateVM(_ context.Context, v *record.VM) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.vms {
		if o.Name == v.Name {
			return fmt.Errorf("vm %s: %w", v.Name, record.ErrConflict)
		}
	}
	s.n++
	v.ID = fmt.Sprintf("%04dabcdef012345", s.n)
	v.CreatedAt = time.Now()
	s.vms[v.ID] = *v
	return nil
}

func (s *memStore) find(ref string) (record.VM, bool) {
	if v, ok := s.vms[ref]; ok {
		return v, true
	}
	for _, v := range s.vms {
		if v.Name == ref {
			return v, true
		}
	}
	return record.VM{}, false
}

func (s *memStore) GetVM(_ context.Context, ref string) (*record.VM, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.find(ref)
	if !ok {
		return nil, fmt.Errorf("vm %s: %w", ref, record.ErrNotFound)
	}
	return &v, nil
}

func (s *memStore) ListVMs(context.Context) ([]record.VM, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []record.VM
	for _, v := range s.vms {
		out = append(out, v)
	}
	return out, nil
}

func (s *memStore) UpdateVM(_ context.Context, v *record.VM) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.vms[v.ID]; !ok {
		return record.ErrNotFound
	}
	s.vms[v.ID] = *v
	return nil
}

func (s *memStore) DeleteVM(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.vms[id]; !ok {
		return record.ErrNotFound
	}
	delete(s.vms, id)
	delete(s.leases, id)
	return nil
}

func (s *memStore) AllocateLease(_ context.Context, id string, subnet netip.Prefix, reserved ...netip.Addr) (netip.Addr, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.leases[id]; ok {
		return a, nil
	}
	used := map[netip.Addr]bool{}
	for _, a := range s.leases {
		used[a] = true
	}
	for _, a := range reserved {
		used[a] = true
	}
	for a := subnet.Addr().Next(); subnet.Contains(a.Next()); a = a.Next() {
		if !used[a] {
			s.leases[id] = a
			return a, nil
		}
	}
	return netip.Addr{}, record.ErrExhausted
}

func (s *memStore) ReleaseLease(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.leases, id)
	return nil
}

func (s *memStore) GetImage(_ context.Context, ref string) (*record.Image, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, i := range s.images {
		if i.ID == ref || i.Name == ref {
			return &i, nil
		}
	}
	return nil, record.ErrNotFound
}

func (s *memStore) ListImages(context.Context) ([]record.Image, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []record.Image
	for _, i := range s.images {
		out = append(out, i)
	}
	return out, nil
}

func (s *memStore) GetKernel(_ context.Context, ref string) (*record.Kernel, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.kernels {
		if k.ID == ref || k.Name == ref {
			return &k, nil
		}
	}
	return nil, record.ErrNotFound
}

func (s *memStore) ListKernels(context.Context) ([]record.Kernel, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []record.Kernel
	for _, k := range s.kernels {
		out = append(out, k)
	}
	return out, nil
}

// fakeNet records taps like hostnet does.
type fakeNet struct {
	mu   sync.Mutex
	taps map[string]string
}

func (n *fakeNet) EnsureBridge(context.Context) error   { return nil }
func (n *fakeNet) EnsureFirewall(context.Context) error { return nil }
func (n *fakeNet) EnsureTap(_ context.Context, name, owner string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.taps[name] = owner
	return nil
}
func (n *fakeNet) DeleteTap(_ context.Context, name string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.taps, name)
	return nil
}
func (n *fakeNet) count() int { n.mu.Lock(); defer n.mu.Unlock(); return len(n.taps) }

type fakeDisks struct{}

func (fakeDisks) Clone(_ context.Context, src, dst string, formats []string, size int64) (string, error) {
	data, err := os.ReadFile(src)
	if err != nil {
		return "", err
	}
	return formats[0], os.WriteFile(dst, data, 0o600)
}

// fakeDriver starts fake instances; procs holds the live ones by VM id.
type fakeDriver struct {
	needsELF bool // like Firecracker: only an uncompressed vmlinux boots
	// agent, when set, serves the guest end of each DialAgent stream.
	agent    func(net.Conn)
	mu       sync.Mutex
	procs    map[int]*fakeInst
	nextPID  int
	startErr error
}

func newFakeDriver() *fakeDriver { return &fakeDriver{procs: map[int]*fakeInst{}, nextPID: 100} }

func (d *fakeDriver) Name() string { return "fake" }
func (d *fakeDriver) Capabilities() vmm.Capabilities {
	return vmm.Capabilities{DiskFormats: []string{vmm.FormatRaw}, NeedsUncompressedKernel: d.needsELF}
}
func (d *fakeDriver) Available(context.Context) error { return nil }
func (d *fakeDriver) Validate(s vmm.Spec) error {
	if s.Kernel == "" {
		return vmm.ErrInvalidSpec
	}
	return nil
}
func (d *fakeDriver) Start(_ context.Context, s vmm.Spec) (vmm.Instance, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.startErr != nil {
		return nil, d.startErr
	}
	d.nextPID++
	in := &fakeInst{d: d, st: vmm.State{Driver: "fake", PID: d.nextPID, RunDir: s.RunDir, ConsoleLog: filepath.Join(s.RunDir, "console.log")}, done: make(chan struct{})}
	_ = os.WriteFile(in.st.ConsoleLog, []byte("fake boot line 1\nfake boot line 2\n"), 0o600)
	d.procs[in.st.PID] = in
	return in, nil
}
func (d *fakeDriver) Attach(_ context.Context, st vmm.State) (vmm.Instance, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if in, ok := d.procs[st.PID]; ok {
		return in, nil
	}
	return nil, vmm.ErrNotRunning
}
func (d *fakeDriver) live() int { d.mu.Lock(); defer d.mu.Unlock(); return len(d.procs) }

type fakeInst struct {
	d    *fakeDriver
	st   vmm.State
	once sync.Once
	done chan struct{}
}

func (i *fakeInst) State() vmm.State { return i.st }
func (i *fakeInst) Running() bool {
	select {
	case <-i.done:
		return false
	default:
		return true
	}
}
func (i *fakeInst) end() {
	i.once.Do(func() {
		i.d.mu.Lock()
		delete(i.d.procs, i.st.PID)
		i.d.mu.Unlock()
		close(i.done)
	})
}
func (i *fakeInst) Shutdown(context.Context) error { i.end(); return nil }
func (i *fakeInst) Kill(context.Context) error     { i.end(); return nil }
func (i *fakeInst) Wait(ctx context.Context) error {
	select {
	case <-i.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
func (i *fakeInst) DialAgent(context.Context) (net.Conn, error) {
	if i.d.agent == nil || !i.Running() {
		return nil, errors.New("no agent")
	}
	hostEnd, guestEnd := net.Pipe()
	go i.d.agent(guestEnd)
	return hostEnd, nil
}

type fakeReady struct{ err error }

func (r fakeReady) Wait(context.Context, string, netip.Addr, vmm.Instance) error { return r.err }
