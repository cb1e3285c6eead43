package image

import (
	"context"
	"debug/elf"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"banger/internal/testenv"
)

func TestCompareVersions(t *testing.T) {
	sorted := []string{
		"5.10.0-9-amd64",
		"6.1.0-9-cloud-amd64",
		"6.1.0-10-cloud-amd64",
		"6.1.0-56-cloud-amd64",
		"6.1.0-56-cloud-amd64+1",
		"6.12.1",
	}
	shuffled := []string{sorted[3], sorted[5], sorted[0], sorted[2], sorted[4], sorted[1]}
	slices.SortFunc(shuffled, compareVersions)
	if !slices.Equal(shuffled, sorted) {
		t.Fatalf("sorted = %v, want %v", shuffled, sorted)
	}
}

func writeFile(t *testing.T, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
}

// fakeHost lays out a /boot and /lib/modules with two kernels; the newer
// one (by version order, not by name order) has all its parts.
func fakeHost(t *testing.T) (boot, modules string, raw []byte) {
	dir := t.TempDir()
	boot, modules = filepath.Join(dir, "boot"), filepath.Join(dir, "modules")
	raw = fakeELF(64 << 10)
	img := buildBzImage(t, compressWith(t, "gzip", raw), len(raw), false, "6.1.0-10-test")
	writeFile(t, filepath.Join(boot, "vmlinuz-6.1.0-9-test"), []byte("old"), 0o644)
	writeFile(t, filepath.Join(boot, "vmlinuz-6.1.0-10-test"), img, 0o644)
	writeFile(t, filepath.Join(boot, "initrd.img-6.1.0-10-test"), []byte("initrd"), 0o644)
	writeFile(t, filepath.Join(boot, "config-6.1.0-10-test"), []byte("CONFIG_X=y\n"), 0o644)
	mod := filepath.Join(modules, "6.1.0-10-test")
	writeFile(t, filepath.Join(mod, "kernel/drivers/block/virtio_blk.ko"), []byte("ko"), 0o644)
	writeFile(t, filepath.Join(mod, "modules.dep"), []byte("dep"), 0o644)
	if err := os.Symlink("/usr/src/linux-headers-6.1.0-10-test", filepath.Join(mod, "build")); err != nil {
		t.Fatal(err)
	}
	return boot, modules, raw
}

func TestFindAndImportKernel(t *testing.T) {
	boot, modules, raw := fakeHost(t)
	kf, err := findKernel(boot, modules)
	if err != nil {
		t.Fatalf("findKernel: %v", err)
	}
	want := KernelFiles{
		Version:    "6.1.0-10-test",
		Kernel:     filepath.Join(boot, "vmlinuz-6.1.0-10-test"),
		Initrd:     filepath.Join(boot, "initrd.img-6.1.0-10-test"),
		ModulesDir: filepath.Join(modules, "6.1.0-10-test"),
		Config:     filepath.Join(boot, "config-6.1.0-10-test"),
	}
	if kf != want {
		t.Fatalf("findKernel = %+v, want %+v", kf, want)
	}

	dest := filepath.Join(t.TempDir(), "kernels", "k1")
	k, err := ImportKernel(context.Background(), kf, dest)
	if err != nil {
		t.Fatalf("ImportKernel: %v", err)
	}
	if k.Version != "6.1.0-10-test" || k.Dir != dest {
		t.Errorf("kernel = %+v", k)
	}
	vmlinux, err := os.ReadFile(k.Vmlinux)
	if err != nil || string(vmlinux) != string(raw) {
		t.Errorf("vmlinux not the extracted payload (err %v)", err)
	}
	for _, p := range []string{k.Path, k.Initrd, k.Config, filepath.Join(k.ModulesDir, "kernel/drivers/block/virtio_blk.ko"), filepath.Join(k.ModulesDir, "modules.dep")} {
		if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
			t.Errorf("%s: not a regular file (%v)", p, err)
		}
	}
	if link, err := os.Readlink(filepath.Join(k.ModulesDir, "build")); err != nil || link != "/usr/src/linux-headers-6.1.0-10-test" {
		t.Errorf("build symlink = %q, %v", link, err)
	}

	// A second import into the same place fails and leaves it intact.
	if _, err := ImportKernel(context.Background(), kf, dest); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second ImportKernel: %v, want fs.ErrExist", err)
	}
	if _, err := os.Stat(k.Vmlinux); err != nil {
		t.Errorf("second import damaged the first: %v", err)
	}
}

func TestImportKernelFailureLeavesNothing(t *testing.T) {
	boot, _, _ := fakeHost(t)
	parent := t.TempDir()
	kf := KernelFiles{Kernel: filepath.Join(boot, "vmlinuz-6.1.0-9-test"), Initrd: filepath.Join(boot, "initrd.img-6.1.0-10-test")}
	_, err := ImportKernel(context.Background(), kf, filepath.Join(parent, "k"))
	if !errors.Is(err, ErrNotKernel) {
		t.Fatalf("ImportKernel of a non-kernel: %v, want ErrNotKernel", err)
	}
	if ents, _ := os.ReadDir(parent); len(ents) != 0 {
		t.Errorf("failed import left %v behind", ents)
	}

	// A cancelled context stops the modules copy; nothing remains either.
	_, modules, _ := fakeHost(t)
	kf = KernelFiles{Kernel: filepath.Join(boot, "vmlinuz-6.1.0-10-test"), ModulesDir: filepath.Join(modules, "6.1.0-10-test")}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ImportKernel(ctx, kf, filepath.Join(parent, "k")); !errors.Is(err, context.Canceled) {
		t.Fatalf("ImportKernel with a cancelled ctx: %v", err)
	}
	if ents, _ := os.ReadDir(parent); len(ents) != 0 {
		t.Errorf("cancelled import left %v behind", ents)
	}
}

func TestFindKernelNone(t *testing.T) {
	if _, err := findKernel(t.TempDir(), t.TempDir()); err == nil {
		t.Fatal("findKernel found a kernel in an empty dir")
	}
}

// The host's own Debian kernel (LZ4-compressed bzImage on bookworm's
// cloud-amd64 flavour) imports to a real x86-64 ELF.
func TestImportHostKernel(t *testing.T) {
	kf, err := FindHostKernel("/boot")
	testenv.Require(t, err == nil, "a kernel in /boot (apt-get install linux-image-cloud-amd64)")
	k, err := ImportKernel(context.Background(), kf, filepath.Join(t.TempDir(), "host"))
	if err != nil {
		t.Fatalf("ImportKernel(%+v): %v", kf, err)
	}
	f, err := elf.Open(k.Vmlinux)
	if err != nil {
		t.Fatalf("opening extracted vmlinux: %v", err)
	}
	defer f.Close()
	if f.Machine != elf.EM_X86_64 || f.Type != elf.ET_EXEC {
		t.Errorf("vmlinux is %v %v, want EM_X86_64 ET_EXEC", f.Machine, f.Type)
	}
	if f.Entry == 0 || len(f.Progs) == 0 {
		t.Errorf("vmlinux has entry %#x and %d program headers", f.Entry, len(f.Progs))
	}
	data, _ := os.ReadFile(kf.Kernel)
	h, err := parseBzImage(data)
	if err != nil {
		t.Fatalf("parsing %s: %v", kf.Kernel, err)
	}
	if h.Version != kf.Version {
		t.Errorf("header version %q, file name version %q", h.Version, kf.Version)
	}
}
