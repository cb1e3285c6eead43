package disk

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// Filesystem labels banger gives its disks.
const (
	LabelRoot = "banger-root"
	LabelWork = "banger-work"
)

// MakeExt4 creates path as a sparse file of sizeBytes holding a new ext4
// filesystem labelled label, filled from the directory fromDir when it is
// not "" (mkfs.ext4 -d: no mount needed, ownership and modes kept). It
// builds path.tmp and renames it into place, so path either holds a
// complete filesystem or does not exist. path must not exist: a second call
// fails with an error wrapping os.ErrExist.
func MakeExt4(ctx context.Context, path string, sizeBytes int64, label, fromDir string) (err error) {
	if sizeBytes <= 0 {
		return fmt.Errorf("making ext4 %s: size %d is not positive", path, sizeBytes)
	}
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("making ext4 %s: %w", path, os.ErrExist)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("making ext4: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, Remove(tmp))
		}
	}()
	err = f.Truncate(sizeBytes)
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return fmt.Errorf("sizing %s: %w", tmp, err)
	}
	args := []string{"-F", "-q", "-L", label, "-E", "root_owner=0:0"}
	if fromDir != "" {
		args = append(args, "-d", fromDir)
	}
	if _, err := run(ctx, "mkfs.ext4", append(args, tmp)...); err != nil {
		return fmt.Errorf("making ext4 %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("making ext4 %s: %w", path, err)
	}
	return nil
}

// CreateWorkDisk creates the persistent work disk: a sparse file of
// sizeBytes with an empty ext4 labelled banger-work. Same contract as
// MakeExt4: path must not exist yet.
func CreateWorkDisk(ctx context.Context, path string, sizeBytes int64) error {
	return MakeExt4(ctx, path, sizeBytes, LabelWork, "")
}

// GrowExt4 grows the ext4 filesystem in the raw image file path to the
// file's size (after Clone extended it): e2fsck -fp, then resize2fs. The
// image must not be in use by a VM. Idempotent: on a filesystem that
// already fills the file, resize2fs changes nothing.
func GrowExt4(ctx context.Context, path string) error {
	if _, err := run(ctx, "e2fsck", "-f", "-p", path); err != nil {
		// Exit status 1 means errors were corrected; the image is fine.
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) || exitErr.ExitCode() != 1 {
			return fmt.Errorf("checking %s before growing it: %w", path, err)
		}
	}
	if _, err := run(ctx, "resize2fs", path); err != nil {
		return fmt.Errorf("growing ext4 in %s: %w", path, err)
	}
	return nil
}

// FilesystemSize returns the size in bytes of the ext4 filesystem in the
// image file path (block count times block size, from dumpe2fs -h); after
// GrowExt4 it equals the file size.
func FilesystemSize(ctx context.Context, path string) (int64, error) {
	out, err := run(ctx, "dumpe2fs", "-h", path)
	if err != nil {
		return 0, fmt.Errorf("reading ext4 superblock of %s: %w", path, err)
	}
	size := int64(1)
	for _, key := range []string{"Block count:", "Block size:"} {
		v, ok := superblockField(string(out), key)
		if !ok {
			return 0, fmt.Errorf("reading ext4 superblock of %s: no %q line", path, key)
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("reading ext4 superblock of %s: %s %w", path, key, err)
		}
		size *= n
	}
	return size, nil
}

// superblockField returns the value of the "Key:   value" line of dumpe2fs.
func superblockField(out, key string) (string, bool) {
	for line := range strings.Lines(out) {
		if v, ok := strings.CutPrefix(line, key); ok {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}
