package image

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"banger/internal/disk"

	"golang.org/x/sys/unix"
)

// Progress is one step or output line of Bootstrap.
type Progress struct {
	Phase string // "debootstrap", "cached", "customize", "mkfs", "done"
	Line  string
}

// Bootstrap builds the ext4 root image out (sparse, label banger-root)
// from spec:
//  1. debootstrap --variant=minbase into cacheDir/rootfs/<key>/root, where
//     key hashes the debootstrap inputs alone; a "complete" marker makes a
//     later call with the same inputs reuse it (builds of one key are
//     serialised by a lock file);
//  2. a working copy of it (cp -a) is customised (customizeRootfs);
//  3. mkfs.ext4 -d fills out.tmp from the copy, which is renamed to out.
//
// out must not exist. On any error nothing is left at out or out.tmp and
// the working copy is gone; the cache keeps only complete trees. ctx
// bounds debootstrap: when it ends, debootstrap is stopped and its error
// carries the tail of its output. progress, if not nil, is called (never
// concurrently) with each phase and debootstrap output line.
func Bootstrap(ctx context.Context, spec BootstrapSpec, cacheDir, out string, progress func(Progress)) (err error) {
	if progress == nil {
		progress = func(Progress) {}
	}
	s, err := spec.withDefaults()
	if err != nil {
		return err
	}
	if _, err := os.Lstat(out); err == nil {
		return fmt.Errorf("bootstrapping %s: %w", out, os.ErrExist)
	}
	base, err := cachedRootfs(ctx, s, cacheDir, progress)
	if err != nil {
		return err
	}

	work, err := os.MkdirTemp(cacheDir, "work-")
	if err != nil {
		return fmt.Errorf("creating working copy dir: %w", err)
	}
	defer func() {
		if rmErr := removeTree(work); rmErr != nil {
			err = errors.Join(err, rmErr)
		}
	}()
	root := filepath.Join(work, "root")
	progress(Progress{Phase: "customize", Line: "copying cached rootfs " + base})
	if _, err := runCmd(ctx, nil, "cp", "-a", "--reflink=auto", base, root); err != nil {
		return fmt.Errorf("copying cached rootfs: %w", err)
	}
	progress(Progress{Phase: "customize", Line: "applying banger settings"})
	if err := customizeRootfs(ctx, root, s); err != nil {
		return fmt.Errorf("customising rootfs: %w", err)
	}
	progress(Progress{Phase: "mkfs", Line: fmt.Sprintf("mkfs.ext4 %s (%d bytes)", out, s.SizeBytes)})
	if err := disk.MakeExt4(ctx, out, s.SizeBytes, disk.LabelRoot, root); err != nil {
		return err
	}
	progress(Progress{Phase: "done", Line: out})
	return nil
}

// cachedRootfs returns the debootstrapped tree for s, building it first
// when the cache has no complete one.
func cachedRootfs(ctx context.Context, s BootstrapSpec, cacheDir string, progress func(Progress)) (string, error) {
	dir := filepath.Join(cacheDir, "rootfs", s.debootstrapKey())
	root, marker := filepath.Join(dir, "root"), filepath.Join(dir, "complete")
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", fmt.Errorf("creating rootfs cache: %w", err)
	}
	unlock, err := lockFile(ctx, dir+".lock")
	if err != nil {
		return "", err
	}
	defer unlock()
	if exists(marker) {
		progress(Progress{Phase: "cached", Line: "reusing debootstrap of " + dir})
		return root, nil
	}
	// Under the lock, anything at dir or dir.tmp is left from a run that
	// died: start over.
	tmp := dir + ".tmp"
	for _, p := range []string{dir, tmp} {
		if err := removeTree(p); err != nil {
			return "", err
		}
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return "", fmt.Errorf("creating rootfs cache: %w", err)
	}
	args := []string{"--variant=minbase", "--arch=" + debianArch(), "--components=main",
		"--include=" + strings.Join(s.includes(), ","), s.Suite, filepath.Join(tmp, "root"), s.Mirror}
	progress(Progress{Phase: "debootstrap", Line: "debootstrap " + strings.Join(args, " ")})
	lines := func(l string) { progress(Progress{Phase: "debootstrap", Line: l}) }
	if _, err := runCmd(ctx, lines, "debootstrap", args...); err != nil {
		return "", errors.Join(fmt.Errorf("bootstrapping %s: %w", s.Suite, err), removeTree(tmp))
	}
	if err := os.WriteFile(filepath.Join(tmp, "complete"), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644); err != nil {
		return "", errors.Join(fmt.Errorf("marking rootfs complete: %w", err), removeTree(tmp))
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", errors.Join(fmt.Errorf("moving rootfs into the cache: %w", err), removeTree(tmp))
	}
	return root, nil
}

// lockFile takes an exclusive flock on path, polling so ctx can end the
// wait. The returned func releases it.
func lockFile(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening lock %s: %w", path, err)
	}
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for lock %s: %w", path, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// removeTree removes dir after unmounting anything still mounted below it
// (a debootstrap that was killed can leave its /proc and /sys mounts), so
// removal never reaches into another filesystem.
func removeTree(dir string) error {
	mounts, err := mountsUnder(dir)
	if err != nil {
		return err
	}
	for i := len(mounts) - 1; i >= 0; i-- {
		if err := unix.Unmount(mounts[i], unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("unmounting %s before removing %s: %w", mounts[i], dir, err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing %s: %w", dir, err)
	}
	return nil
}

// mountsUnder lists mount points at or below dir, parents first.
func mountsUnder(dir string) ([]string, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("reading mounts: %w", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		mp := unescapeMountinfo(f[4])
		if mp == abs || strings.HasPrefix(mp, abs+"/") {
			out = append(out, mp)
		}
	}
	return out, nil
}

// unescapeMountinfo undoes the octal escapes (\040 for space) of mountinfo.
func unescapeMountinfo(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v byte
			ok := true
			for _, c := range []byte(s[i+1 : i+4]) {
				if c < '0' || c > '7' {
					ok = false
					break
				}
				v = v*8 + c - '0'
			}
			if ok {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// PrepareCache runs (or reuses) only the debootstrap step of spec, the one
// that needs the Debian archive, so that a later Bootstrap with the same
// suite, mirror and packages works without network access (a daemon inside
// a network namespace in tests, say). The SSH key may be a placeholder: it
// does not affect this step.
func PrepareCache(ctx context.Context, spec BootstrapSpec, cacheDir string, progress func(Progress)) error {
	if progress == nil {
		progress = func(Progress) {}
	}
	if spec.SSHPublicKey == "" {
		spec.SSHPublicKey = "unused"
	}
	s, err := spec.withDefaults()
	if err != nil {
		return err
	}
	_, err = cachedRootfs(ctx, s, cacheDir, progress)
	return err
}
