// Package image builds what guests boot from: it imports kernels (with an
// uncompressed vmlinux for Firecracker) and bootstraps ext4 root images.
//
// It records nothing itself: functions return paths, hashes and metadata,
// and the caller (the daemon) stores them.
package image

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// KernelFiles are the host files that make up one kernel. Only Kernel is
// required; the others are "" when the host has none.
type KernelFiles struct {
	Version    string // "6.1.0-56-cloud-amd64"
	Kernel     string // /boot/vmlinuz-<ver> (bzImage) or an ELF vmlinux
	Initrd     string // /boot/initrd.img-<ver>
	ModulesDir string // /lib/modules/<ver>
	Config     string // /boot/config-<ver>
}

// Kernel is an imported kernel: every path lies inside Dir.
type Kernel struct {
	Dir        string
	Version    string
	Path       string // the kernel as given (bzImage or ELF)
	Vmlinux    string // uncompressed ELF vmlinux
	Initrd     string // "" if none was given
	ModulesDir string // Dir/modules/<ver>, "" if none was given
	Config     string // "" if none was given
}

// Names of the files inside an imported kernel's directory.
const (
	kernelFile  = "vmlinuz"
	vmlinuxFile = "vmlinux"
	initrdFile  = "initrd.img"
	configFile  = "config"
	modulesDir  = "modules"
)

// FindHostKernel returns the newest vmlinuz-<ver> in bootDir (by version
// order) with its initrd.img-<ver>, config-<ver> and /lib/modules/<ver>,
// each left "" when missing.
func FindHostKernel(bootDir string) (KernelFiles, error) {
	return findKernel(bootDir, "/lib/modules")
}

func findKernel(bootDir, modulesRoot string) (KernelFiles, error) {
	matches, err := filepath.Glob(filepath.Join(bootDir, "vmlinuz-*"))
	if err != nil {
		return KernelFiles{}, fmt.Errorf("listing kernels in %s: %w", bootDir, err)
	}
	var versions []string
	for _, m := range matches {
		if fi, err := os.Stat(m); err == nil && fi.Mode().IsRegular() {
			versions = append(versions, strings.TrimPrefix(filepath.Base(m), "vmlinuz-"))
		}
	}
	if len(versions) == 0 {
		return KernelFiles{}, fmt.Errorf("finding a kernel: no vmlinuz-* file in %s (apt-get install linux-image-cloud-amd64)", bootDir)
	}
	slices.SortFunc(versions, compareVersions)
	ver := versions[len(versions)-1]
	kf := KernelFiles{Version: ver, Kernel: filepath.Join(bootDir, "vmlinuz-"+ver)}
	if p := filepath.Join(bootDir, "initrd.img-"+ver); exists(p) {
		kf.Initrd = p
	}
	if p := filepath.Join(bootDir, "config-"+ver); exists(p) {
		kf.Config = p
	}
	if p := filepath.Join(modulesRoot, ver); exists(p) {
		kf.ModulesDir = p
	}
	return kf, nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// compareVersions orders kernel version strings the way people read them:
// runs of digits compare as numbers ("6.1.0-10" > "6.1.0-9"), the rest
// byte-wise.
func compareVersions(a, b string) int {
	for a != "" && b != "" {
		ra, restA := leadingRun(a)
		rb, restB := leadingRun(b)
		if isDigit(ra[0]) && isDigit(rb[0]) {
			na, nb := strings.TrimLeft(ra, "0"), strings.TrimLeft(rb, "0")
			if c := len(na) - len(nb); c != 0 {
				return c
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
		} else if c := strings.Compare(ra, rb); c != 0 {
			return c
		}
		a, b = restA, restB
	}
	return len(a) - len(b)
}

// leadingRun splits s after its leading run of digits or of non-digits.
func leadingRun(s string) (run, rest string) {
	d := isDigit(s[0])
	i := 1
	for i < len(s) && isDigit(s[i]) == d {
		i++
	}
	return s[:i], s[i:]
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// ImportKernel copies the kernel, initrd, config and modules tree of src
// into destDir and writes the uncompressed ELF vmlinux beside them. It
// builds everything in a temporary sibling directory and renames it into
// place, so destDir either holds a complete kernel or does not exist.
// destDir must not exist yet: a second call with the same destDir fails
// with an error wrapping fs.ErrExist and changes nothing.
func ImportKernel(ctx context.Context, src KernelFiles, destDir string) (k Kernel, err error) {
	if _, err := os.Lstat(destDir); err == nil {
		return k, fmt.Errorf("importing kernel into %s: %w", destDir, fs.ErrExist)
	}
	parent := filepath.Dir(destDir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return k, fmt.Errorf("creating %s: %w", parent, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(destDir)+".tmp-")
	if err != nil {
		return k, fmt.Errorf("creating temporary kernel dir: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, os.RemoveAll(tmp))
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return k, fmt.Errorf("setting mode of %s: %w", tmp, err)
	}

	vmlinux, hdrVersion, err := ExtractVmlinuxFile(src.Kernel)
	if err != nil {
		return k, err
	}
	k = Kernel{Dir: destDir, Version: src.Version, Path: filepath.Join(destDir, kernelFile), Vmlinux: filepath.Join(destDir, vmlinuxFile)}
	if k.Version == "" {
		k.Version = hdrVersion
	}
	if k.Version == "" {
		k.Version = strings.TrimPrefix(filepath.Base(src.Kernel), "vmlinuz-")
	}
	if err := copyFile(src.Kernel, filepath.Join(tmp, kernelFile)); err != nil {
		return k, err
	}
	if err := os.WriteFile(filepath.Join(tmp, vmlinuxFile), vmlinux, 0o644); err != nil {
		return k, fmt.Errorf("writing vmlinux: %w", err)
	}
	if src.Initrd != "" {
		k.Initrd = filepath.Join(destDir, initrdFile)
		if err := copyFile(src.Initrd, filepath.Join(tmp, initrdFile)); err != nil {
			return k, err
		}
	}
	if src.Config != "" {
		k.Config = filepath.Join(destDir, configFile)
		if err := copyFile(src.Config, filepath.Join(tmp, configFile)); err != nil {
			return k, err
		}
	}
	if src.ModulesDir != "" {
		rel := filepath.Join(modulesDir, filepath.Base(src.ModulesDir))
		k.ModulesDir = filepath.Join(destDir, rel)
		if err := os.Mkdir(filepath.Join(tmp, modulesDir), 0o755); err != nil {
			return k, fmt.Errorf("creating modules dir: %w", err)
		}
		if err := copyTree(ctx, src.ModulesDir, filepath.Join(tmp, rel)); err != nil {
			return k, err
		}
	}
	if err := os.Rename(tmp, destDir); err != nil {
		return k, fmt.Errorf("moving kernel into %s: %w", destDir, err)
	}
	return k, nil
}
