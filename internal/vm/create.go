package vm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"banger/internal/record"
	"banger/internal/vmm"
)

// CreateRequest asks for a new VM. Zero values take the defaults.
type CreateRequest struct {
	Name          string
	Image         string // image name or id
	Kernel        string // kernel name or id; default: the image's kernel, else the newest
	VCPUs         int
	MemoryMiB     int
	DiskSizeBytes int64 // root disk size; 0 = the image size
	VMM           string
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)

// ValidateName checks a VM name: 1-63 characters of a-z 0-9 _ . - starting
// with a letter or digit.
func ValidateName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%w: VM name %q: use 1-63 characters a-z, 0-9, '_', '.', '-', starting with a letter or digit", ErrInvalid, name)
	}
	return nil
}

// Create makes a VM, boots it and waits until it is ready. On any failure
// every resource acquired so far is released and the VM row is removed.
func (m *Manager) Create(ctx context.Context, req CreateRequest) (*record.VM, error) {
	if err := ValidateName(req.Name); err != nil {
		return nil, err
	}
	if req.VCPUs < 1 || req.VCPUs > 32 {
		return nil, fmt.Errorf("%w: vcpus %d out of range 1..32", ErrInvalid, req.VCPUs)
	}
	if req.MemoryMiB < 128 || req.MemoryMiB > 256*1024 {
		return nil, fmt.Errorf("%w: memory %d MiB out of range 128..262144", ErrInvalid, req.MemoryMiB)
	}
	drv, err := m.driver(req.VMM)
	if err != nil {
		return nil, err
	}
	if err := drv.Available(ctx); err != nil {
		return nil, fmt.Errorf("VMM %s cannot run here: %w", drv.Name(), err)
	}
	img, err := m.pickImage(ctx, req.Image)
	if err != nil {
		return nil, err
	}
	kern, err := m.pickKernel(ctx, req.Kernel, img)
	if err != nil {
		return nil, err
	}
	size := req.DiskSizeBytes
	if size == 0 {
		size = img.SizeBytes
	}
	if size < img.SizeBytes {
		return nil, fmt.Errorf("%w: disk size %d bytes is smaller than image %s (%d bytes)", ErrInvalid, size, img.Name, img.SizeBytes)
	}

	v := &record.VM{
		Name: req.Name, State: record.VMCreating, ImageID: img.ID, KernelID: kern.ID,
		VCPUs: req.VCPUs, MemoryMiB: req.MemoryMiB, DiskSizeBytes: size, VMM: drv.Name(),
	}
	var (
		diskPath, diskFormat string
		inst                 vmm.Instance
		unlock               func()
	)
	steps := []step{
		{name: "recording VM", do: func(ctx context.Context) error {
			if err := m.store.CreateVM(ctx, v); err != nil {
				return err
			}
			unlock, err = m.lock(v.ID)
			return err
		}, undo: func(ctx context.Context) error {
			return m.store.DeleteVM(ctx, v.ID)
		}},
		{name: "leasing address", do: func(ctx context.Context) error {
			addr, err := m.store.AllocateLease(ctx, v.ID, m.opts.Subnet, m.opts.Gateway)
			if err != nil {
				return err
			}
			v.IP, v.MAC, v.Tap = addr, MAC(v.ID), TapName(v.ID)
			v.RunDir = filepath.Join(m.opts.StateDir, "vms", v.ID)
			return m.store.UpdateVM(ctx, v)
		}, undo: func(ctx context.Context) error {
			return m.store.ReleaseLease(ctx, v.ID)
		}},
		{name: "creating VM directory", do: func(ctx context.Context) error {
			return os.MkdirAll(v.RunDir, 0o700)
		}, undo: func(ctx context.Context) error {
			return os.RemoveAll(v.RunDir)
		}},
		{name: "cloning root disk", do: func(ctx context.Context) error {
			formats := drv.Capabilities().DiskFormats
			diskPath = filepath.Join(v.RunDir, "root.img")
			diskFormat, err = m.disks.Clone(ctx, img.Path, diskPath, formats, size)
			return err
		}},
		{name: "starting VM", do: func(ctx context.Context) error {
			inst, err = m.boot(ctx, drv, v, kern, vmm.Disk{Path: diskPath, Format: diskFormat})
			return err
		}, undo: func(ctx context.Context) error {
			return m.halt(ctx, v, inst, false)
		}},
	}
	if err := runSteps(ctx, steps); err != nil {
		if unlock != nil {
			unlock()
		}
		return nil, fmt.Errorf("creating VM %s: %w", req.Name, err)
	}
	defer unlock()
	return v, nil
}

// pickImage finds the named image; with no name, the newest one.
func (m *Manager) pickImage(ctx context.Context, ref string) (*record.Image, error) {
	if ref == "" {
		imgs, err := m.store.ListImages(ctx)
		if err != nil {
			return nil, err
		}
		if len(imgs) == 0 {
			return nil, fmt.Errorf("%w: no image exists: build one with `banger image bootstrap`", record.ErrNotFound)
		}
		newest := imgs[0]
		for _, i := range imgs[1:] {
			if i.CreatedAt.After(newest.CreatedAt) {
				newest = i
			}
		}
		return &newest, nil
	}
	img, err := m.store.GetImage(ctx, ref)
	if err != nil {
		if errors.Is(err, record.ErrNotFound) {
			return nil, fmt.Errorf("%w: image %q does not exist: `banger image ls` lists images, `banger image bootstrap` builds one", record.ErrNotFound, ref)
		}
		return nil, fmt.Errorf("image %q: %w", ref, err)
	}
	return img, nil
}

func (m *Manager) pickKernel(ctx context.Context, ref string, img *record.Image) (*record.Kernel, error) {
	if ref == "" {
		ref = img.KernelID
	}
	if ref != "" {
		k, err := m.store.GetKernel(ctx, ref)
		if errors.Is(err, record.ErrNotFound) {
			return nil, fmt.Errorf("%w: kernel %q does not exist: `banger kernel ls` lists kernels, `banger kernel import` adds one", record.ErrNotFound, ref)
		}
		if err != nil {
			return nil, fmt.Errorf("kernel %q: %w", ref, err)
		}
		return k, nil
	}
	ks, err := m.store.ListKernels(ctx)
	if err != nil {
		return nil, err
	}
	if len(ks) == 0 {
		return nil, fmt.Errorf("%w: no kernel imported: run `banger kernel import`", record.ErrNotFound)
	}
	newest := ks[0]
	for _, k := range ks[1:] {
		if k.CreatedAt.After(newest.CreatedAt) {
			newest = k
		}
	}
	return &newest, nil
}

// boot brings up the tap, starts the VMM and waits for readiness. On failure
// it leaves no process and no tap; the error carries the console's tail.
func (m *Manager) boot(ctx context.Context, drv vmm.Driver, v *record.VM, kern *record.Kernel, root vmm.Disk) (vmm.Instance, error) {
	kpath := kern.Path
	if drv.Capabilities().NeedsUncompressedKernel {
		if kern.Vmlinux == "" {
			return nil, fmt.Errorf("%w: kernel %s has no uncompressed vmlinux, which %s needs: re-import it with `banger kernel import`", vmm.ErrInvalidSpec, kern.Name, drv.Name())
		}
		kpath = kern.Vmlinux
	}
	spec := vmm.Spec{
		ID: v.ID, VCPUs: v.VCPUs, MemoryMiB: v.MemoryMiB,
		Kernel: kpath, Initrd: kern.Initrd,
		Cmdline:  Cmdline(NetParams{Addr: v.IP, Prefix: m.opts.Subnet, Gateway: m.opts.Gateway, DNS: m.opts.DNS, Hostname: v.Name}),
		Disks:    []vmm.Disk{root},
		NICs:     []vmm.NetIf{{Tap: v.Tap, MAC: v.MAC}},
		RunDir:   v.RunDir,
		GuestCID: guestCID(v.IP),
	}
	if err := drv.Validate(spec); err != nil {
		return nil, err
	}
	var inst vmm.Instance
	steps := []step{
		{name: "ensuring bridge", do: func(ctx context.Context) error {
			if err := m.net.EnsureBridge(ctx); err != nil {
				return err
			}
			return m.net.EnsureFirewall(ctx)
		}},
		{name: "creating tap " + v.Tap, do: func(ctx context.Context) error {
			return m.net.EnsureTap(ctx, v.Tap, v.ID)
		}, undo: func(ctx context.Context) error {
			return m.net.DeleteTap(ctx, v.Tap)
		}},
		{name: "starting " + drv.Name(), do: func(ctx context.Context) error {
			var err error
			inst, err = drv.Start(ctx, spec)
			return err
		}, undo: func(ctx context.Context) error {
			return inst.Kill(ctx)
		}},
		{name: "recording runtime", do: func(ctx context.Context) error {
			rt, err := json.Marshal(inst.State())
			if err != nil {
				return err
			}
			v.Runtime = rt
			return m.store.UpdateVM(ctx, v)
		}},
		{name: "waiting for the guest", do: func(ctx context.Context) error {
			rctx, cancel := context.WithTimeout(ctx, m.opts.ReadyTimeout)
			defer cancel()
			if err := m.ready.Wait(rctx, v.ID, v.IP, inst); err != nil {
				return fmt.Errorf("%w\n--- last lines of the serial console (%s) ---\n%s", err, inst.State().ConsoleLog, consoleTail(inst.State().ConsoleLog, 25))
			}
			return nil
		}},
		{name: "marking running", do: func(ctx context.Context) error {
			v.State, v.LastError = record.VMRunning, ""
			return m.store.UpdateVM(ctx, v)
		}},
	}
	if err := runSteps(ctx, steps); err != nil {
		return nil, err
	}
	m.setInstance(v.ID, inst)
	go m.watch(v.ID, inst)
	return inst, nil
}

// guestCID derives a vsock CID (>= 3) unique per address in the subnet.
func guestCID(a interface{ As4() [4]byte }) uint32 {
	b := a.As4()
	return 1000 + uint32(b[2])<<8 + uint32(b[3])
}

func consoleTail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(no console output: " + err.Error() + ")"
	}
	lines := splitLines(string(data))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	out := ""
	for _, l := range lines {
		out += l + "\n"
	}
	return out
}

func splitLines(s string) []string {
	var lines []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			lines = append(lines, trimCR(s[start:i]))
			start = i + 1
		}
	}
	if start < len(s) {
		lines = append(lines, trimCR(s[start:]))
	}
	return lines
}

func trimCR(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}

var errNoInstance = errors.New("no instance")
