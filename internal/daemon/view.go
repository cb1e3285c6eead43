package daemon

import (
	"encoding/json"

	"banger/internal/api"
	"banger/internal/store"
	"banger/internal/vmm"
)

// names maps ids to names so views show what users typed, not ids. A
// missing id (the object was removed) shows as the id itself.
type names map[string]string

func (n names) of(id string) string {
	if name, ok := n[id]; ok {
		return name
	}
	return id
}

func vmView(v *store.VM, images, kernels names) api.VM {
	out := api.VM{
		ID:            v.ID,
		Name:          v.Name,
		State:         v.State,
		Image:         images.of(v.ImageID),
		Kernel:        kernels.of(v.KernelID),
		VCPUs:         v.VCPUs,
		MemoryMiB:     v.MemoryMiB,
		DiskSizeBytes: v.DiskSizeBytes,
		VMM:           v.VMM,
		MAC:           v.MAC,
		Tap:           v.Tap,
		LastError:     v.LastError,
		CreatedAt:     v.CreatedAt,
		UpdatedAt:     v.UpdatedAt,
	}
	if v.IP.IsValid() {
		out.IP = v.IP.String()
	}
	// Runtime is written by the lifecycle from a vmm.State; a row that does
	// not decode shows no process details rather than failing the listing.
	var st vmm.State
	if len(v.Runtime) > 0 && json.Unmarshal(v.Runtime, &st) == nil {
		out.Accel, out.PID = st.Accel, st.PID
	}
	return out
}

func imageView(i *store.Image, kernels names) api.Image {
	return api.Image{
		ID:        i.ID,
		Name:      i.Name,
		Path:      i.Path,
		SizeBytes: i.SizeBytes,
		Kernel:    kernels.of(i.KernelID),
		CreatedAt: i.CreatedAt,
	}
}

func kernelView(k *store.Kernel) api.Kernel {
	return api.Kernel{
		ID:        k.ID,
		Name:      k.Name,
		Version:   k.Version,
		Path:      k.Path,
		Initrd:    k.Initrd,
		CreatedAt: k.CreatedAt,
	}
}
