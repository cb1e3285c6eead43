package doctor

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"banger/internal/config"
	"banger/internal/testenv"
)

// fakeBinEnv turns the test binary into a fake VMM for HostProbe.Version,
// the os/exec way: the child sees the variable and acts instead of testing.
const fakeBinEnv = "DOCTOR_TEST_FAKE_BIN"

func TestMain(m *testing.M) {
	switch os.Getenv(fakeBinEnv) {
	case "":
		os.Exit(m.Run())
	case "version":
		fmt.Println("Fake VMM version 1.2.3\nCopyright nobody")
		os.Exit(0)
	case "fail":
		fmt.Fprintln(os.Stderr, "fake: cannot load libfoo.so")
		os.Exit(3)
	case "silent":
		os.Exit(0)
	case "hang":
		time.Sleep(time.Minute)
		os.Exit(0)
	}
}

func TestHostVersion(t *testing.T) {
	h := Host()
	ctx := context.Background()

	t.Setenv(fakeBinEnv, "version")
	if v, err := h.Version(ctx, os.Args[0]); err != nil || v != "Fake VMM version 1.2.3" {
		t.Errorf("Version = %q, %v", v, err)
	}
	t.Setenv(fakeBinEnv, "fail")
	if _, err := h.Version(ctx, os.Args[0]); err == nil || !strings.Contains(err.Error(), "cannot load libfoo.so") {
		t.Errorf("error %v does not carry stderr", err)
	}
	t.Setenv(fakeBinEnv, "silent")
	if _, err := h.Version(ctx, os.Args[0]); err == nil {
		t.Error("no output accepted as a version")
	}
	t.Setenv(fakeBinEnv, "hang")
	ctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := h.Version(ctx, os.Args[0]); err == nil {
		t.Error("hanging binary gave a version")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Version of a hanging binary took %v", d)
	}
}

func TestHostFiles(t *testing.T) {
	h := Host()
	dir := t.TempDir()
	fi, err := h.Stat(dir)
	if err != nil || !fi.Mode.IsDir() || fi.UID != uint32(os.Getuid()) {
		t.Fatalf("Stat(%s) = %+v, %v", dir, fi, err)
	}
	if _, err := h.Stat(dir + "/absent"); !os.IsNotExist(err) {
		t.Errorf("Stat of a missing path: %v", err)
	}
	if free, err := h.FreeBytes(dir); err != nil || free == 0 {
		t.Errorf("FreeBytes = %d, %v", free, err)
	}
	if _, err := h.FreeBytes(dir + "/absent"); err == nil {
		t.Error("FreeBytes of a missing path succeeded")
	}
}

func TestHostLookPathFindsSbin(t *testing.T) {
	want := testenv.RequireBinary(t, "mkfs.ext4", "e2fsprogs")
	t.Setenv("PATH", t.TempDir())
	got, err := Host().LookPath("mkfs.ext4")
	if err != nil {
		t.Fatalf("LookPath with a PATH lacking sbin: %v", err)
	}
	if !sameFile(got, want) {
		t.Errorf("LookPath = %s, want %s", got, want)
	}
	if _, err := Host().LookPath("banger-no-such-tool"); err == nil {
		t.Error("found a tool that does not exist")
	}
}

func sameFile(a, b string) bool {
	ai, err1 := os.Stat(a)
	bi, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(ai, bi)
}

// newNetNS returns a path to a fresh, empty network namespace that lives
// until the test ends. The thread that made it is locked and never unlocked,
// so Go discards it instead of reusing it in the wrong namespace.
func newNetNS(t *testing.T) string {
	t.Helper()
	testenv.RequireRoot(t)
	type result struct {
		h   netns.NsHandle
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		h, err := netns.New()
		ch <- result{h, err}
	}()
	res := <-ch
	if res.err != nil {
		t.Fatalf("creating network namespace: %v", res.err)
	}
	t.Cleanup(func() { res.h.Close() })
	return fmt.Sprintf("/proc/self/fd/%d", int(res.h))
}

func TestHostNFTablesInFreshNetNS(t *testing.T) {
	ns := newNetNS(t)
	tables, err := (&HostProbe{NetNSPath: ns}).NFTables(context.Background())
	if err != nil {
		t.Fatalf("listing tables in a fresh netns: %v", err)
	}
	if len(tables) != 0 {
		t.Fatalf("fresh netns has tables %v", tables)
	}
	if _, err := (&HostProbe{NetNSPath: "/nonexistent/ns"}).NFTables(context.Background()); err == nil {
		t.Error("a missing netns path was accepted")
	}
}

// TestSmokeProjectMachine runs every check on this machine, which is the
// project's kind: a PVM host with QEMU and no Firecracker. nftables is
// listed in a throwaway netns; everything else is read from the host.
func TestSmokeProjectMachine(t *testing.T) {
	testenv.RequireBinary(t, "qemu-system-x86_64", "qemu-system-x86")
	testenv.Require(t, DetectKVM(Host()).PVM, "a PVM host (kvm_pvm loaded), as the project's machines are")
	ns := newNetNS(t)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r := Run(ctx, config.Default(), Options{Probe: &HostProbe{NetNSPath: ns}})
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	t.Logf("doctor report:\n%s", text.String())

	if r.Driver != config.QEMU || r.Accel != config.TCG || !r.VMMUsable("") {
		t.Fatalf("chose %s/%s usable=%v (%s)", r.Driver, r.Accel, r.VMMUsable(""), r.Why)
	}
	if r.VMMUsable(config.Firecracker) {
		t.Error("firecracker reported usable on a PVM host")
	}
	mustCheck(t, r, "kvm", Warn, "PVM")
	mustCheck(t, r, "qemu", OK, "QEMU emulator version")
	mustCheck(t, r, "nftables", OK, "0 tables")
	mustCheck(t, r, "vmm", OK, "qemu with tcg")
}
