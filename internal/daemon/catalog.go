package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"banger/internal/api"
	"banger/internal/config"
	"banger/internal/image"
	"banger/internal/store"
)

// CatalogStore is what importing kernels and building images records.
type CatalogStore interface {
	CreateKernel(ctx context.Context, k *store.Kernel) error
	GetKernel(ctx context.Context, idOrName string) (*store.Kernel, error)
	ListKernels(ctx context.Context) ([]store.Kernel, error)
	CreateImage(ctx context.Context, i *store.Image) error
	GetImage(ctx context.Context, idOrName string) (*store.Image, error)
	FindImageByHash(ctx context.Context, hash string) (*store.Image, error)
}

// Catalog imports kernels and bootstraps images into the state dir and
// records them. A failure leaves neither files nor rows behind.
type Catalog struct {
	Store        CatalogStore
	StateDir     string
	CacheDir     string
	BootDir      string // default /boot
	SSHPublicKey string
	// AgentBinary, when set, is installed into bootstrapped images.
	AgentBinary string
}

// ImportKernel imports req's kernel (default: the host's newest).
func (c *Catalog) ImportKernel(ctx context.Context, req api.ImportKernelRequest) (*store.Kernel, error) {
	var files image.KernelFiles
	if req.Kernel == "" {
		boot := c.BootDir
		if boot == "" {
			boot = "/boot"
		}
		f, err := image.FindHostKernel(boot)
		if err != nil {
			return nil, api.Errorf(api.CodeNotFound, "finding a host kernel: %v", err).WithHint("install one (apt-get install linux-image-cloud-amd64) or pass --kernel PATH")
		}
		files = f
	} else {
		for _, p := range []string{req.Kernel, req.Initrd, req.Modules} {
			if p != "" && !filepath.IsAbs(p) {
				return nil, api.Errorf(api.CodeInvalidArgument, "path %q is not absolute: the daemon cannot resolve paths relative to the CLI", p)
			}
		}
		files = image.KernelFiles{Kernel: req.Kernel, Initrd: req.Initrd, ModulesDir: req.Modules}
	}
	name := req.Name
	if name == "" {
		name = files.Version
	}
	if err := api.ValidateName("kernel", name); err != nil {
		return nil, api.Errorf(api.CodeInvalidArgument, "kernel name %q: %v", name, err).WithHint("pass --name")
	}
	if _, err := c.Store.GetKernel(ctx, name); err == nil {
		return nil, api.Errorf(api.CodeConflict, "kernel %s already exists", name).WithHint("remove it with `banger kernel rm " + name + "` or pick another --name")
	}
	dest := filepath.Join(c.StateDir, "kernels", name)
	k, err := image.ImportKernel(ctx, files, dest)
	if err != nil {
		if errors.Is(err, image.ErrNotKernel) || errors.Is(err, os.ErrNotExist) {
			return nil, api.Errorf(api.CodeInvalidArgument, "importing kernel: %v", err)
		}
		return nil, fmt.Errorf("importing kernel: %w", err)
	}
	rec := &store.Kernel{Name: name, Path: k.Path, Vmlinux: k.Vmlinux, Initrd: k.Initrd, ModulesDir: k.ModulesDir, Version: k.Version}
	if err := c.Store.CreateKernel(ctx, rec); err != nil {
		return nil, errors.Join(fmt.Errorf("recording kernel: %w", err), os.RemoveAll(dest))
	}
	return rec, nil
}

// Bootstrap builds (or finds cached) a Debian base image.
func (c *Catalog) Bootstrap(ctx context.Context, req api.BootstrapImageRequest, progress func(image.Progress)) (*store.Image, error) {
	suite := req.Suite
	if suite == "" {
		suite = image.DefaultSuite
	}
	name := req.Name
	if name == "" {
		name = "debian-" + suite
	}
	if err := api.ValidateName("image", name); err != nil {
		return nil, err
	}
	size := image.DefaultSizeBytes
	if req.Size != "" {
		n, err := config.ParseSize(req.Size)
		if err != nil {
			return nil, api.Errorf(api.CodeInvalidArgument, "size: %v", err)
		}
		size = n
	}
	kern, err := c.kernel(ctx, req.Kernel)
	if err != nil {
		return nil, err
	}
	if c.AgentBinary == "" {
		return nil, &api.Error{Code: api.CodeUnavailable, Message: "the guest agent binary banger-agent was not found",
			Hint: "install it beside the banger binary or in /usr/local/lib/banger/ (`make build` makes bin/banger-agent), or set BANGER_AGENT"}
	}
	spec := image.BootstrapSpec{Suite: suite, Packages: req.Packages, SSHPublicKey: c.SSHPublicKey,
		AgentBinary: c.AgentBinary, SizeBytes: size}
	if kern.ModulesDir != "" {
		spec.ExtraFiles = append(spec.ExtraFiles, image.ExtraFile{Source: kern.ModulesDir, Dest: "/lib/modules/" + kern.Version})
	}
	hash, err := image.InputHash(spec)
	if err != nil {
		return nil, fmt.Errorf("hashing image inputs: %w", err)
	}
	if existing, err := c.Store.FindImageByHash(ctx, hash); err == nil {
		if existing.Name == name {
			progress(image.Progress{Phase: "cached", Line: "image " + name + " is up to date"})
			return existing, nil
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if _, err := c.Store.GetImage(ctx, name); err == nil {
		return nil, api.Errorf(api.CodeConflict, "image %s already exists (built from other inputs)", name).WithHint("remove it with `banger image rm " + name + "` or pick another --name")
	}
	dir := filepath.Join(c.StateDir, "images")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	out := filepath.Join(dir, name+".ext4")
	if err := image.Bootstrap(ctx, spec, c.CacheDir, out, progress); err != nil {
		return nil, err
	}
	rec := &store.Image{Name: name, Path: out, SizeBytes: size, InputHash: hash, KernelID: kern.ID}
	if err := c.Store.CreateImage(ctx, rec); err != nil {
		return nil, errors.Join(fmt.Errorf("recording image: %w", err), os.Remove(out))
	}
	return rec, nil
}

func (c *Catalog) kernel(ctx context.Context, ref string) (*store.Kernel, error) {
	if ref != "" {
		k, err := c.Store.GetKernel(ctx, ref)
		if err != nil {
			return nil, notFoundHint(err, "kernel", "banger kernel ls")
		}
		return k, nil
	}
	ks, err := c.Store.ListKernels(ctx)
	if err != nil {
		return nil, err
	}
	if len(ks) == 0 {
		return nil, &api.Error{Code: api.CodeNotFound, Message: "no kernel is imported", Hint: "run `banger kernel import` first"}
	}
	k := slices.MaxFunc(ks, func(a, b store.Kernel) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return &k, nil
}
