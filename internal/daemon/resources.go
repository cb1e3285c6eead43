package daemon

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"banger/internal/api"
	"banger/internal/config"
	"banger/internal/store"
)

// Handlers of /v1/vms, /v1/images and /v1/kernels. Each returns the status
// and body to send, or an error that errorFor turns into the answer.

func (d *Daemon) listVMs(r *http.Request) (int, any, error) {
	vms, err := d.deps.VMs.List(r.Context())
	if err != nil {
		return 0, nil, err
	}
	images, kernels, err := d.nameMaps(r.Context())
	if err != nil {
		return 0, nil, err
	}
	out := make([]api.VM, 0, len(vms))
	for i := range vms {
		out = append(out, vmView(&vms[i], images, kernels))
	}
	slices.SortFunc(out, func(a, b api.VM) int { return strings.Compare(a.Name, b.Name) })
	return http.StatusOK, out, nil
}

func (d *Daemon) getVM(r *http.Request) (int, any, error) {
	name, err := pathName(r, "VM")
	if err != nil {
		return 0, nil, err
	}
	vm, err := d.deps.VMs.Get(r.Context(), name)
	if err != nil {
		return 0, nil, notFoundHint(err, "VM", "banger vm ls")
	}
	images, kernels, err := d.nameMaps(r.Context())
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, vmView(vm, images, kernels), nil
}

func (d *Daemon) createVM(r *http.Request) (int, any, error) {
	var req api.CreateVMRequest
	if err := decodeJSON(r, &req); err != nil {
		return 0, nil, err
	}
	if err := req.Validate(); err != nil {
		return 0, nil, err
	}
	if req.DiskSize != "" {
		if _, err := config.ParseSize(req.DiskSize); err != nil {
			return 0, nil, api.Errorf(api.CodeInvalidArgument, "disk_size: %v", err)
		}
	}
	vm, err := d.deps.VMs.Create(r.Context(), req)
	if err != nil {
		return 0, nil, err
	}
	images, kernels, err := d.nameMaps(r.Context())
	if err != nil {
		return 0, nil, err
	}
	d.log.Info("VM created", "vm", vm.Name, "id", vm.ID)
	return http.StatusCreated, vmView(vm, images, kernels), nil
}

func (d *Daemon) removeVM(r *http.Request) (int, any, error) {
	name, err := pathName(r, "VM")
	if err != nil {
		return 0, nil, err
	}
	f, err := force(r)
	if err != nil {
		return 0, nil, err
	}
	if err := d.deps.VMs.Remove(r.Context(), name, f); err != nil {
		return 0, nil, notFoundHint(err, "VM", "banger vm ls")
	}
	d.log.Info("VM removed", "vm", name, "force", f)
	return http.StatusNoContent, nil, nil
}

func (d *Daemon) listImages(r *http.Request) (int, any, error) {
	imgs, err := d.deps.Store.ListImages(r.Context())
	if err != nil {
		return 0, nil, fmt.Errorf("listing images: %w", err)
	}
	_, kernels, err := d.nameMaps(r.Context())
	if err != nil {
		return 0, nil, err
	}
	out := make([]api.Image, 0, len(imgs))
	for i := range imgs {
		out = append(out, imageView(&imgs[i], kernels))
	}
	slices.SortFunc(out, func(a, b api.Image) int { return strings.Compare(a.Name, b.Name) })
	return http.StatusOK, out, nil
}

func (d *Daemon) getImage(r *http.Request) (int, any, error) {
	name, err := pathName(r, "image")
	if err != nil {
		return 0, nil, err
	}
	img, err := d.deps.Store.GetImage(r.Context(), name)
	if err != nil {
		return 0, nil, notFoundHint(fmt.Errorf("getting image %s: %w", name, err), "image", "banger image ls")
	}
	_, kernels, err := d.nameMaps(r.Context())
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, imageView(img, kernels), nil
}

// removeImage refuses while a VM was created from the image.
func (d *Daemon) removeImage(r *http.Request) (int, any, error) {
	name, err := pathName(r, "image")
	if err != nil {
		return 0, nil, err
	}
	ctx := r.Context()
	img, err := d.deps.Store.GetImage(ctx, name)
	if err != nil {
		return 0, nil, notFoundHint(fmt.Errorf("getting image %s: %w", name, err), "image", "banger image ls")
	}
	users, err := d.vmsUsing(ctx, func(v *store.VM) bool { return v.ImageID == img.ID })
	if err != nil {
		return 0, nil, err
	}
	if len(users) > 0 {
		return 0, nil, inUse("image", img.Name, "VMs", users)
	}
	if err := d.deps.Store.DeleteImage(ctx, img.ID); err != nil {
		return 0, nil, fmt.Errorf("deleting image %s: %w", img.Name, err)
	}
	if err := d.removeFiles(ctx, img.Path); err != nil {
		return 0, nil, fmt.Errorf("image %s is removed but some of its files are not: %w", img.Name, err)
	}
	d.log.Info("image removed", "image", img.Name, "id", img.ID)
	return http.StatusNoContent, nil, nil
}

func (d *Daemon) listKernels(r *http.Request) (int, any, error) {
	ks, err := d.deps.Store.ListKernels(r.Context())
	if err != nil {
		return 0, nil, fmt.Errorf("listing kernels: %w", err)
	}
	out := make([]api.Kernel, 0, len(ks))
	for i := range ks {
		out = append(out, kernelView(&ks[i]))
	}
	slices.SortFunc(out, func(a, b api.Kernel) int { return strings.Compare(a.Name, b.Name) })
	return http.StatusOK, out, nil
}

func (d *Daemon) getKernel(r *http.Request) (int, any, error) {
	name, err := pathName(r, "kernel")
	if err != nil {
		return 0, nil, err
	}
	k, err := d.deps.Store.GetKernel(r.Context(), name)
	if err != nil {
		return 0, nil, notFoundHint(fmt.Errorf("getting kernel %s: %w", name, err), "kernel", "banger kernel ls")
	}
	return http.StatusOK, kernelView(k), nil
}

// removeKernel refuses while an image or a VM refers to the kernel.
func (d *Daemon) removeKernel(r *http.Request) (int, any, error) {
	name, err := pathName(r, "kernel")
	if err != nil {
		return 0, nil, err
	}
	ctx := r.Context()
	k, err := d.deps.Store.GetKernel(ctx, name)
	if err != nil {
		return 0, nil, notFoundHint(fmt.Errorf("getting kernel %s: %w", name, err), "kernel", "banger kernel ls")
	}
	imgs, err := d.deps.Store.ListImages(ctx)
	if err != nil {
		return 0, nil, fmt.Errorf("listing images: %w", err)
	}
	var users []string
	for _, i := range imgs {
		if i.KernelID == k.ID {
			users = append(users, i.Name)
		}
	}
	if len(users) > 0 {
		return 0, nil, inUse("kernel", k.Name, "images", users)
	}
	users, err = d.vmsUsing(ctx, func(v *store.VM) bool { return v.KernelID == k.ID })
	if err != nil {
		return 0, nil, err
	}
	if len(users) > 0 {
		return 0, nil, inUse("kernel", k.Name, "VMs", users)
	}
	if err := d.deps.Store.DeleteKernel(ctx, k.ID); err != nil {
		return 0, nil, fmt.Errorf("deleting kernel %s: %w", k.Name, err)
	}
	if err := d.removeFiles(ctx, k.Path, k.Vmlinux, k.Initrd, k.ModulesDir); err != nil {
		return 0, nil, fmt.Errorf("kernel %s is removed but some of its files are not: %w", k.Name, err)
	}
	d.log.Info("kernel removed", "kernel", k.Name, "id", k.ID)
	return http.StatusNoContent, nil, nil
}

// vmsUsing names the VMs for which uses is true.
func (d *Daemon) vmsUsing(ctx context.Context, uses func(*store.VM) bool) ([]string, error) {
	vms, err := d.deps.VMs.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for i := range vms {
		if uses(&vms[i]) {
			out = append(out, vms[i].Name)
		}
	}
	return out, nil
}

func inUse(kind, name, userKind string, users []string) error {
	return &api.Error{
		Code:    api.CodeConflict,
		Message: fmt.Sprintf("%s %s is in use by %s: %s", kind, name, userKind, joinNames(users)),
		Hint:    "remove those " + userKind + " first",
	}
}

func joinNames(names []string) string {
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// notFoundHint adds "see what exists" to a not-found error.
func notFoundHint(err error, kind, listCmd string) error {
	e := errorFor(err)
	if e.Code == api.CodeNotFound && e.Hint == "" {
		e = e.WithHint(fmt.Sprintf("no %s has that name or id; `%s` lists them", kind, listCmd))
	}
	return e
}

// nameMaps maps image and kernel ids to names for views.
func (d *Daemon) nameMaps(ctx context.Context) (images, kernels names, err error) {
	imgs, err := d.deps.Store.ListImages(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("listing images: %w", err)
	}
	ks, err := d.deps.Store.ListKernels(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("listing kernels: %w", err)
	}
	images, kernels = names{}, names{}
	for _, i := range imgs {
		images[i.ID] = i.Name
	}
	for _, k := range ks {
		kernels[k.ID] = k.Name
	}
	return images, kernels, nil
}

// removeFiles removes the files of a just-deleted image or kernel that
// banger owns (under the state directory) and no remaining row names.
func (d *Daemon) removeFiles(ctx context.Context, paths ...string) error {
	imgs, err := d.deps.Store.ListImages(ctx)
	if err != nil {
		return fmt.Errorf("listing images: %w", err)
	}
	ks, err := d.deps.Store.ListKernels(ctx)
	if err != nil {
		return fmt.Errorf("listing kernels: %w", err)
	}
	keep := map[string]bool{}
	for _, i := range imgs {
		keep[i.Path] = true
	}
	for _, k := range ks {
		for _, p := range []string{k.Path, k.Vmlinux, k.Initrd, k.ModulesDir} {
			keep[p] = true
		}
	}
	return removeOwnedFiles(d.cfg.StateDir, paths, keep)
}
