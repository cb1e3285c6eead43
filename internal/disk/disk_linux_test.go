package disk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"banger/internal/testenv"

	"golang.org/x/sys/unix"
)

const mib = 1 << 20

// sparseImage writes a size-byte file holding 1 MiB data extents at the
// given MiB offsets and holes elsewhere; it returns the data written.
func sparseImage(t testing.TB, path string, size int64, atMiB ...int64) map[int64][]byte {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	written := map[int64][]byte{}
	for _, m := range atMiB {
		b := bytes.Repeat([]byte{byte(m + 1)}, mib)
		copy(b, path)
		if _, err := f.WriteAt(b, m*mib); err != nil {
			t.Fatal(err)
		}
		written[m*mib] = b
	}
	return written
}

func checkData(t *testing.T, path string, want map[int64][]byte) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for off, b := range want {
		got := make([]byte, len(b))
		if _, err := f.ReadAt(got, off); err != nil || !bytes.Equal(got, b) {
			t.Errorf("%s at %d: data differs from the source (%v)", path, off, err)
		}
	}
}

func statT(t *testing.T, path string) *syscall.Stat_t {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t)
}

// requireNoReflink skips (locally) or fails (CI) when dir's filesystem
// can share extents, since the fallbacks would then not run.
func requireNoReflink(t *testing.T, dir string) {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	testenv.Require(t, st.Type != unix.XFS_SUPER_MAGIC && st.Type != unix.BTRFS_SUPER_MAGIC,
		"a temp dir on a filesystem without reflinks (ext4, tmpfs) to test the fallbacks")
}

func TestCloneSparseCopyKeepsHoles(t *testing.T) {
	dir := t.TempDir()
	requireNoReflink(t, dir)
	src, dst := filepath.Join(dir, "base.img"), filepath.Join(dir, "vm.img")
	data := sparseImage(t, src, 256*mib, 0, 17, 200)

	r, err := CloneMethod(context.Background(), src, dst, []string{FormatRaw, FormatQcow2 + "-not"}, 512*mib)
	if err != nil {
		t.Fatalf("Clone: %v", err)
	}
	if r != (Result{FormatRaw, MethodSparseCopy}) {
		t.Fatalf("Clone made %+v, want a raw sparse copy", r)
	}
	checkData(t, dst, data)
	if fi, _ := os.Stat(dst); fi.Size() != 512*mib {
		t.Errorf("dst size %d, want %d", fi.Size(), 512*mib)
	}
	// 3 MiB of data: both files hold about 3 MiB of blocks, not 256/512.
	srcBlocks, dstBlocks := statT(t, src).Blocks, statT(t, dst).Blocks
	if dstBlocks > srcBlocks+2*mib/512 || dstBlocks < 3*mib/512 {
		t.Errorf("dst has %d 512-byte blocks, src %d: holes not kept", dstBlocks, srcBlocks)
	}
	if _, err := Clone(context.Background(), src, dst, nil, 0); !errors.Is(err, os.ErrExist) {
		t.Errorf("second Clone onto %s: %v, want os.ErrExist", dst, err)
	}
}

func TestCloneQcow2Overlay(t *testing.T) {
	qemuImg := testenv.RequireBinary(t, "qemu-img", "qemu-utils")
	dir := t.TempDir()
	requireNoReflink(t, dir)
	src, dst := filepath.Join(dir, "base.img"), filepath.Join(dir, "vm.qcow2")
	sparseImage(t, src, 64*mib, 0, 5)
	before, _ := os.ReadFile(src)

	format, err := Clone(context.Background(), src, dst, []string{FormatRaw, FormatQcow2}, 128*mib)
	if err != nil {
		t.Fatalf("Clone: %v", err)
	}
	if format != FormatQcow2 {
		t.Fatalf("format %q, want qcow2", format)
	}
	if out, err := exec.Command(qemuImg, "check", dst).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img check: %v: %s", err, out)
	}
	out, err := exec.Command(qemuImg, "info", "--output=json", dst).Output()
	if err != nil {
		t.Fatalf("qemu-img info: %v", err)
	}
	var info struct {
		Format        string `json:"format"`
		VirtualSize   int64  `json:"virtual-size"`
		BackingFile   string `json:"backing-filename"`
		BackingFormat string `json:"backing-filename-format"`
	}
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatal(err)
	}
	if info.Format != "qcow2" || info.VirtualSize != 128*mib || info.BackingFile != src || info.BackingFormat != "raw" {
		t.Errorf("qemu-img info = %+v, want qcow2 of %d backed by raw %s", info, 128*mib, src)
	}
	// The overlay is O(1): far smaller than the base.
	if fi, _ := os.Stat(dst); fi.Size() > 4*mib {
		t.Errorf("overlay is %d bytes", fi.Size())
	}
	if fi, _ := os.Stat(src); fi.Mode().Perm()&0o222 != 0 {
		t.Errorf("base %s still writable (%v)", src, fi.Mode())
	}
	after, _ := os.ReadFile(src)
	if !bytes.Equal(before, after) {
		t.Error("base image changed")
	}
	if err := Remove(dst); err != nil {
		t.Fatal(err)
	}
	if err := Remove(dst); err != nil {
		t.Errorf("second Remove: %v", err)
	}
	if _, err := os.Stat(src); err != nil {
		t.Errorf("Remove of the overlay touched the base: %v", err)
	}
}

func TestCloneTooSmall(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "base.img"), filepath.Join(dir, "vm.img")
	sparseImage(t, src, 64*mib, 0)
	_, err := Clone(context.Background(), src, dst, []string{FormatRaw, FormatQcow2}, 32*mib)
	if !errors.Is(err, ErrTooSmall) {
		t.Fatalf("Clone to half the size: %v, want ErrTooSmall", err)
	}
	if _, err := os.Stat(dst); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("failed Clone left %s (%v)", dst, err)
	}
}

// mountXFS loop-mounts a fresh 1 GiB XFS with reflinks in a temp dir and
// unmounts it when the test ends.
func mountXFS(t testing.TB) string {
	t.Helper()
	testenv.RequireRoot(t)
	mkfs := testenv.RequireBinary(t, "mkfs.xfs", "xfsprogs")
	dir := t.TempDir()
	img, mnt := filepath.Join(dir, "xfs.img"), filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 1<<30); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(mkfs, "-q", "-m", "reflink=1", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.xfs: %v: %s", err, out)
	}
	out, err := exec.Command("mount", "-o", "loop", img, mnt).CombinedOutput()
	testenv.Require(t, err == nil, "loop-mounting an XFS image: "+string(out))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	return mnt
}

func TestCloneReflinkOnXFS(t *testing.T) {
	mnt := mountXFS(t)
	src, dst := filepath.Join(mnt, "base.img"), filepath.Join(mnt, "vm.img")
	data := sparseImage(t, src, 512*mib, 0, 100, 300)

	r, err := CloneMethod(context.Background(), src, dst, []string{FormatRaw, FormatQcow2}, 768*mib)
	if err != nil {
		t.Fatalf("Clone: %v", err)
	}
	if r != (Result{FormatRaw, MethodReflink}) {
		t.Fatalf("Clone made %+v on XFS, want a raw reflink", r)
	}
	checkData(t, dst, data)
	if fi, _ := os.Stat(dst); fi.Size() != 768*mib {
		t.Errorf("dst size %d, want %d", fi.Size(), 768*mib)
	}
	// Writing the clone leaves the source as it was.
	f, err := os.OpenFile(dst, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteAt(bytes.Repeat([]byte{0xee}, mib), 0)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	checkData(t, src, data)
}

func TestMakeExt4GrowAndWorkDisk(t *testing.T) {
	testenv.RequireBinary(t, "mkfs.ext4", "e2fsprogs")
	dir := t.TempDir()
	requireNoReflink(t, dir)
	ctx := context.Background()
	content := filepath.Join(dir, "content")
	if err := os.MkdirAll(filepath.Join(content, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(content, "etc/hostname"), []byte("banger\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(dir, "base.ext4")
	if err := MakeExt4(ctx, base, 64*mib, LabelRoot, content); err != nil {
		t.Fatalf("MakeExt4: %v", err)
	}
	if err := MakeExt4(ctx, base, 64*mib, LabelRoot, content); !errors.Is(err, os.ErrExist) {
		t.Errorf("second MakeExt4: %v, want os.ErrExist", err)
	}
	out, err := exec.Command("debugfs", "-R", "cat /etc/hostname", base).Output()
	if err != nil || string(out) != "banger\n" {
		t.Errorf("debugfs cat /etc/hostname = %q, %v", out, err)
	}

	vm := filepath.Join(dir, "vm.img")
	if _, err := Clone(ctx, base, vm, []string{FormatRaw}, 192*mib); err != nil {
		t.Fatalf("Clone: %v", err)
	}
	if err := GrowExt4(ctx, vm); err != nil {
		t.Fatalf("GrowExt4: %v", err)
	}
	if size, err := FilesystemSize(ctx, vm); err != nil || size != 192*mib {
		t.Errorf("grown filesystem is %d bytes (%v), want %d", size, err, 192*mib)
	}
	if size, err := FilesystemSize(ctx, base); err != nil || size != 64*mib {
		t.Errorf("base filesystem is %d bytes (%v), want it untouched at %d", size, err, 64*mib)
	}

	work := filepath.Join(dir, "work.ext4")
	if err := CreateWorkDisk(ctx, work, 1<<30); err != nil {
		t.Fatalf("CreateWorkDisk: %v", err)
	}
	if out, err := exec.Command("e2fsck", "-n", "-f", work).CombinedOutput(); err != nil {
		t.Errorf("e2fsck -n %s: %v: %s", work, err, out)
	}
	if out, err := exec.Command("e2label", work).Output(); err != nil || string(bytes.TrimSpace(out)) != LabelWork {
		t.Errorf("work disk label %q (%v), want %s", out, err, LabelWork)
	}
	if blocks := statT(t, work).Blocks * 512; blocks > 64*mib {
		t.Errorf("1 GiB work disk uses %d bytes: not sparse", blocks)
	}
	if _, err := os.Stat(work + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary file left behind: %v", err)
	}
}
