// Package disk makes VM disks: per-VM root disks cloned from a shared base
// image without copying it (reflink, else a qcow2 overlay, else a sparse
// copy) and empty ext4 disks.
//
// Growing the filesystem of a cloned root disk is a separate step: for a
// raw disk the lifecycle calls GrowExt4 on the host after Clone; a qcow2
// overlay cannot be resized from the host without touching its base, so
// the guest grows its root filesystem at first boot (resize2fs on the
// mounted root, which ext4 supports online).
package disk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// ErrTooSmall: the requested size is smaller than the source image.
var ErrTooSmall = errors.New("disk size smaller than the image")

// Method is how Clone made the disk.
type Method string

const (
	// MethodReflink: a raw file sharing the source's extents (FICLONE).
	MethodReflink Method = "reflink"
	// MethodQcow2: a qcow2 overlay whose backing file is the source.
	MethodQcow2 Method = "qcow2-overlay"
	// MethodSparseCopy: a raw copy of the source's data extents only.
	MethodSparseCopy Method = "sparse-copy"
)

// Formats Clone may produce; the same strings as vmm.FormatRaw and
// vmm.FormatQcow2.
const (
	FormatRaw   = "raw"
	FormatQcow2 = "qcow2"
)

// Result says what Clone made.
type Result struct {
	Format string // FormatRaw or FormatQcow2
	Method Method
}

// Remove deletes a disk made by Clone or CreateWorkDisk. For a qcow2 overlay
// only the overlay goes; its base is left alone. Idempotent: removing a
// disk that does not exist returns nil.
func Remove(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing disk %s: %w", path, err)
	}
	return nil
}

// run runs an external program and returns its stdout; its error carries
// the program's stderr.
func run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("running %s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}
