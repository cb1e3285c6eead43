package disk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"
)

// Clone makes dst a writable disk with the contents of the raw image src,
// sizeBytes large (0 keeps src's size), and returns its format. See
// CloneMethod.
func Clone(ctx context.Context, src, dst string, formats []string, sizeBytes int64) (format string, err error) {
	r, err := CloneMethod(ctx, src, dst, formats, sizeBytes)
	return r.Format, err
}

// CloneMethod makes dst from src in O(1) when it can, trying in turn:
//   - a reflink (FICLONE) of src, on filesystems that share extents (XFS
//     with reflink=1, btrfs) -> raw;
//   - when formats holds "qcow2" and qemu-img is installed, a qcow2 overlay
//     backed by src (absolute path) -> qcow2. src must then stay in place
//     and never be written again: its write permission bits are removed;
//   - a sparse copy of src's data extents -> raw.
//
// A raw result is extended to sizeBytes with a hole; its ext4 filesystem is
// not grown (see GrowExt4). A qcow2 result has sizeBytes as virtual size.
// dst must not exist: a second call with the same dst fails and leaves the
// first disk alone. On error nothing is left at dst.
func CloneMethod(ctx context.Context, src, dst string, formats []string, sizeBytes int64) (Result, error) {
	fi, err := os.Stat(src)
	if err != nil {
		return Result{}, fmt.Errorf("cloning disk: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return Result{}, fmt.Errorf("cloning disk: %s is not a regular file", src)
	}
	if sizeBytes == 0 {
		sizeBytes = fi.Size()
	}
	if sizeBytes < fi.Size() {
		return Result{}, fmt.Errorf("cloning %s to %d bytes: %w (%d bytes)", src, sizeBytes, ErrTooSmall, fi.Size())
	}

	ok, err := reflink(src, dst)
	if err != nil {
		return Result{}, err
	}
	if ok {
		return Result{FormatRaw, MethodReflink}, growRaw(dst, sizeBytes)
	}
	if slices.Contains(formats, FormatQcow2) {
		if _, lookErr := exec.LookPath("qemu-img"); lookErr == nil {
			return Result{FormatQcow2, MethodQcow2}, qcow2Overlay(ctx, src, dst, sizeBytes)
		}
	}
	if len(formats) > 0 && !slices.Contains(formats, FormatRaw) {
		return Result{}, fmt.Errorf("cloning %s: none of the formats %v can be made here (qcow2 needs qemu-img: apt-get install qemu-utils)", src, formats)
	}
	if err := sparseCopy(ctx, src, dst); err != nil {
		return Result{}, err
	}
	return Result{FormatRaw, MethodSparseCopy}, growRaw(dst, sizeBytes)
}

// growRaw extends dst to size with a hole; on error dst is removed.
func growRaw(dst string, size int64) error {
	if err := os.Truncate(dst, size); err != nil {
		return errors.Join(fmt.Errorf("growing %s to %d bytes: %w", dst, size, err), os.Remove(dst))
	}
	return nil
}

// reflink tries FICLONE. ok is false (and dst absent) when the filesystem
// cannot share extents between these files.
func reflink(src, dst string) (ok bool, err error) {
	in, err := os.Open(src)
	if err != nil {
		return false, fmt.Errorf("cloning disk: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return false, fmt.Errorf("cloning disk: %w", err)
	}
	cloneErr := unix.IoctlFileClone(int(out.Fd()), int(in.Fd()))
	closeErr := out.Close()
	if cloneErr == nil && closeErr == nil {
		return true, nil
	}
	rmErr := os.Remove(dst)
	switch {
	case cloneErr == nil:
		return false, errors.Join(fmt.Errorf("closing %s: %w", dst, closeErr), rmErr)
	case errors.Is(cloneErr, unix.EOPNOTSUPP), errors.Is(cloneErr, unix.ENOTTY),
		errors.Is(cloneErr, unix.EXDEV), errors.Is(cloneErr, unix.EINVAL), errors.Is(cloneErr, unix.ENOSYS):
		return false, rmErr
	default:
		return false, errors.Join(fmt.Errorf("reflinking %s to %s: %w", src, dst, cloneErr), rmErr)
	}
}

// qcow2Overlay creates dst as a qcow2 whose backing file is src.
func qcow2Overlay(ctx context.Context, src, dst string, size int64) error {
	abs, err := filepath.Abs(src)
	if err != nil {
		return fmt.Errorf("resolving %s: %w", src, err)
	}
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("creating overlay %s: %w", dst, os.ErrExist)
	}
	if fi, err := os.Stat(abs); err == nil && fi.Mode().Perm()&0o222 != 0 {
		if err := os.Chmod(abs, fi.Mode().Perm()&^0o222); err != nil {
			return fmt.Errorf("making base image %s read-only: %w", abs, err)
		}
	}
	if _, err := run(ctx, "qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", abs, dst, strconv.FormatInt(size, 10)); err != nil {
		return errors.Join(fmt.Errorf("creating qcow2 overlay: %w", err), Remove(dst))
	}
	return nil
}

// sparseCopy copies only the data extents of src (SEEK_DATA/SEEK_HOLE) with
// copy_file_range, so holes stay holes in dst.
func sparseCopy(ctx context.Context, src, dst string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("copying disk: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("copying disk: %w", err)
	}
	defer func() {
		err = errors.Join(err, out.Close())
		if err != nil {
			err = errors.Join(err, os.Remove(dst))
		}
	}()
	fi, err := in.Stat()
	if err != nil {
		return fmt.Errorf("copying disk: %w", err)
	}
	size := fi.Size()
	if err := out.Truncate(size); err != nil {
		return fmt.Errorf("sizing %s: %w", dst, err)
	}
	const chunk = 64 << 20
	srcFd, dstFd := int(in.Fd()), int(out.Fd())
	for off := int64(0); off < size; {
		data, err := unix.Seek(srcFd, off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break // only a hole remains
		}
		if err != nil {
			return fmt.Errorf("seeking data in %s: %w", src, err)
		}
		hole, err := unix.Seek(srcFd, data, unix.SEEK_HOLE)
		if err != nil {
			return fmt.Errorf("seeking hole in %s: %w", src, err)
		}
		for data < hole {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("copying %s: %w", src, err)
			}
			roff, woff := data, data
			n, err := unix.CopyFileRange(srcFd, &roff, dstFd, &woff, int(min(hole-data, chunk)), 0)
			if err != nil {
				return fmt.Errorf("copying %s to %s: %w", src, dst, err)
			}
			if n == 0 {
				return fmt.Errorf("copying %s to %s: %w at offset %d", src, dst, io.ErrUnexpectedEOF, data)
			}
			data += int64(n)
		}
		off = hole
	}
	return nil
}
