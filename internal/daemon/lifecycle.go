package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"

	"banger/internal/api"
	"banger/internal/config"
	"banger/internal/store"
	"banger/internal/vm"
)

// Lifecycle is the VMService of a daemon that boots VMs: vm.Manager plus
// the configured defaults for what a request leaves out.
type Lifecycle struct {
	M        *vm.Manager
	Defaults config.VMDefaults
}

var _ VMService = (*Lifecycle)(nil)

func (l *Lifecycle) List(ctx context.Context) ([]store.VM, error) { return l.M.List(ctx) }
func (l *Lifecycle) Get(ctx context.Context, name string) (*store.VM, error) {
	return l.M.Get(ctx, name)
}

func (l *Lifecycle) Create(ctx context.Context, req api.CreateVMRequest) (*store.VM, error) {
	r := vm.CreateRequest{Name: req.Name, Image: req.Image, Kernel: req.Kernel,
		VCPUs: req.VCPUs, MemoryMiB: req.MemoryMiB, VMM: req.VMM}
	if r.VCPUs == 0 {
		r.VCPUs = l.Defaults.VCPUs
	}
	if r.MemoryMiB == 0 {
		r.MemoryMiB = l.Defaults.MemoryMiB
	}
	ds := req.DiskSize
	if ds == "" {
		ds = l.Defaults.DiskSize
	}
	if ds != "" {
		n, err := config.ParseSize(ds)
		if err != nil {
			return nil, api.Errorf(api.CodeInvalidArgument, "disk_size: %v", err)
		}
		r.DiskSizeBytes = n
	}
	v, err := l.M.Create(ctx, r)
	return v, lifecycleError(err)
}

func (l *Lifecycle) Remove(ctx context.Context, name string, force bool) error {
	return lifecycleError(l.M.Remove(ctx, name, force))
}

func (l *Lifecycle) Start(ctx context.Context, name string) (*store.VM, error) {
	v, err := l.M.Start(ctx, name)
	return v, lifecycleError(err)
}

func (l *Lifecycle) Stop(ctx context.Context, name string) (*store.VM, error) {
	v, err := l.M.Stop(ctx, name)
	return v, lifecycleError(err)
}

func (l *Lifecycle) Kill(ctx context.Context, name string) (*store.VM, error) {
	v, err := l.M.Kill(ctx, name)
	return v, lifecycleError(err)
}

// lifecycleError maps the lifecycle's sentinels onto API codes.
func lifecycleError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, vm.ErrInvalid):
		return &api.Error{Code: api.CodeInvalidArgument, Message: err.Error()}
	case errors.Is(err, vm.ErrState):
		return &api.Error{Code: api.CodeConflict, Message: err.Error()}
	case errors.Is(err, vm.ErrBusy):
		return &api.Error{Code: api.CodeConflict, Message: err.Error(), Hint: "wait for the other operation to finish"}
	}
	return err
}

// lifecycle returns the VMService as a Lifecycle, or an unavailable error
// for a daemon built without one.
func (d *Daemon) lifecycle() (*Lifecycle, error) {
	l, ok := d.deps.VMs.(*Lifecycle)
	if !ok {
		return nil, &api.Error{Code: api.CodeUnavailable, Status: http.StatusNotImplemented,
			Message: "this daemon cannot run VMs", Hint: "run `banger doctor`"}
	}
	return l, nil
}

func (d *Daemon) vmAction(act func(*Lifecycle, context.Context, string) (*store.VM, error)) func(*http.Request) (int, any, error) {
	return func(r *http.Request) (int, any, error) {
		name, err := pathName(r, "VM")
		if err != nil {
			return 0, nil, err
		}
		l, err := d.lifecycle()
		if err != nil {
			return 0, nil, err
		}
		v, err := act(l, r.Context(), name)
		if err != nil {
			return 0, nil, notFoundHint(err, "VM", "banger vm ls")
		}
		images, kernels, err := d.nameMaps(r.Context())
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, vmView(v, images, kernels), nil
	}
}

// vmLogs streams the serial console log as text.
func (d *Daemon) vmLogs(w http.ResponseWriter, r *http.Request) {
	name, err := pathName(r, "VM")
	if err != nil {
		writeError(w, errorFor(err))
		return
	}
	v, err := d.deps.VMs.Get(r.Context(), name)
	if err != nil {
		writeError(w, errorFor(notFoundHint(err, "VM", "banger vm ls")))
		return
	}
	f, err := os.Open(vm.ConsoleLog(v))
	if err != nil {
		writeError(w, &api.Error{Code: api.CodeNotFound, Message: fmt.Sprintf("VM %s has no console log yet", v.Name)})
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	http.ServeContent(w, r, "console.log", fileModTime(f), f)
}

func (d *Daemon) vmSSH(r *http.Request) (int, any, error) {
	name, err := pathName(r, "VM")
	if err != nil {
		return 0, nil, err
	}
	v, err := d.deps.VMs.Get(r.Context(), name)
	if err != nil {
		return 0, nil, notFoundHint(err, "VM", "banger vm ls")
	}
	if v.State != store.VMRunning {
		return 0, nil, &api.Error{Code: api.CodeConflict, Message: fmt.Sprintf("VM %s is %s", v.Name, v.State), Hint: "start it with `banger vm start " + v.Name + "`"}
	}
	return http.StatusOK, api.SSHInfo{Host: v.IP.String(), Port: 22, User: "root", KeyPath: d.deps.SSHKeyPath}, nil
}
