package qemu_test

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"banger/internal/testenv"
)

// testGuest is a kernel plus a busybox initramfs whose init echoes the
// agent port and powers off on the ACPI power button.
type testGuest struct {
	Kernel string
	Initrd string
}

// guestModules are loaded in order by the test init. The Debian cloud
// kernel builds them as modules (checked in /boot/config-*-cloud-amd64:
// VIRTIO_MMIO, VIRTIO_CONSOLE, ACPI_BUTTON, INPUT_EVDEV all =m).
var guestModules = []string{
	"drivers/virtio/virtio_ring.ko",
	"drivers/virtio/virtio.ko",
	"drivers/virtio/virtio_mmio.ko",
	"drivers/char/virtio_console.ko",
	"drivers/acpi/button.ko",
	"drivers/input/evdev.ko",
}

// initScript: devtmpfs has no udev, so the /dev/virtio-ports/NAME links
// are made by hand. A virtio port opens once at a time, hence one
// read-write open for cat. acpid only watches the
// input devices present when it starts, so it waits for evdev. It runs /etc/acpi/PWRF/00000080 on
// the power button event that QEMU's system_powerdown sends through the
// microvm GED; `poweroff -f` makes the kernel print "reboot: Power down".
const initScript = `#!/bin/sh
mount -t devtmpfs dev /dev
mount -t proc proc /proc
mount -t sysfs sys /sys
%s
mkdir -p /dev/virtio-ports /etc/acpi/PWRF
for p in /sys/class/virtio-ports/*; do ln -s ../${p##*/} /dev/virtio-ports/$(cat $p/name); done
printf '#!/bin/sh\necho banger-test: power button\npoweroff -f\n' > /etc/acpi/PWRF/00000080
chmod +x /etc/acpi/PWRF/00000080
while [ ! -e /dev/input/event0 ]; do sleep 0.1; done
acpid -d -c /etc/acpi >/dev/console 2>&1 &
sleep 0.3
echo banger-test: ready
while :; do cat 0<>/dev/virtio-ports/banger.agent 1>&0; sleep 0.1; done &
while :; do sleep 1000; done
`

func buildTestGuest(t *testing.T) testGuest {
	t.Helper()
	kernels, _ := filepath.Glob("/boot/vmlinuz-*")
	sort.Strings(kernels)
	testenv.Require(t, len(kernels) > 0, "no kernel in /boot (apt-get install linux-image-cloud-amd64)")
	kernel := kernels[len(kernels)-1]
	modDir := filepath.Join("/lib/modules", strings.TrimPrefix(filepath.Base(kernel), "vmlinuz-"), "kernel")
	busybox := testenv.RequireBinary(t, "busybox", "busybox-static")
	testenv.Require(t, isStatic(busybox), busybox+" is not static (apt-get install busybox-static)")
	var w cpioWriter
	for _, d := range []string{"bin", "dev", "proc", "sys", "etc", "lib", "lib/modules"} {
		w.dir(d)
	}
	bb, err := os.ReadFile(busybox)
	if err != nil {
		t.Fatal(err)
	}
	w.file("bin/busybox", bb, 0o755)
	for _, applet := range []string{"sh", "mount", "insmod", "cat", "mkdir", "ln", "printf", "chmod", "acpid", "poweroff", "sleep", "echo"} {
		w.symlink("bin/"+applet, "busybox")
	}
	var insmods []string
	for i, m := range guestModules {
		b, err := os.ReadFile(filepath.Join(modDir, m))
		testenv.Require(t, err == nil, fmt.Sprintf("kernel module %s (%v)", m, err))
		name := fmt.Sprintf("lib/modules/%02d-%s", i, filepath.Base(m))
		w.file(name, b, 0o644)
		insmods = append(insmods, "insmod /"+name)
	}
	w.file("init", []byte(fmt.Sprintf(initScript, strings.Join(insmods, "\n"))), 0o755)
	initrd := filepath.Join(t.TempDir(), "initrd.cpio")
	if err := os.WriteFile(initrd, w.finish(), 0o644); err != nil {
		t.Fatal(err)
	}
	return testGuest{Kernel: kernel, Initrd: initrd}
}

// isStatic: no PT_INTERP program header.
func isStatic(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}

// cpioWriter writes a "newc" archive, the format the kernel unpacks.
type cpioWriter struct {
	buf bytes.Buffer
	ino int
}

func (w *cpioWriter) entry(name string, mode uint32, data []byte) {
	w.ino++
	fmt.Fprintf(&w.buf, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		w.ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name)+1, 0)
	w.buf.WriteString(name)
	w.buf.WriteByte(0)
	w.pad()
	w.buf.Write(data)
	w.pad()
}

func (w *cpioWriter) pad() {
	for w.buf.Len()%4 != 0 {
		w.buf.WriteByte(0)
	}
}

func (w *cpioWriter) dir(name string)                         { w.entry(name, 0o040755, nil) }
func (w *cpioWriter) file(name string, b []byte, perm uint32) { w.entry(name, 0o100000|perm, b) }
func (w *cpioWriter) symlink(name, target string)             { w.entry(name, 0o120777, []byte(target)) }

func (w *cpioWriter) finish() []byte {
	w.ino = -1
	w.entry("TRAILER!!!", 0, nil)
	return w.buf.Bytes()
}

// makeDisks creates a raw and a qcow2 image (qemu-img from qemu-utils).
func makeDisks(t *testing.T) (raw, qcow2 string) {
	t.Helper()
	qemuImg := testenv.RequireBinary(t, "qemu-img", "qemu-utils")
	dir := t.TempDir()
	raw = filepath.Join(dir, "data,with-comma.raw")
	if err := os.WriteFile(raw, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	qcow2 = filepath.Join(dir, "overlay.qcow2")
	out, err := exec.Command(qemuImg, "create", "-f", "qcow2", qcow2, "16M").CombinedOutput()
	if err != nil {
		t.Fatalf("qemu-img create: %v: %s", err, out)
	}
	return raw, qcow2
}
