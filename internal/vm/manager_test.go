package vm

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"banger/internal/record"
	"banger/internal/vmm"
)

type rig struct {
	m     *Manager
	st    *memStore
	net   *fakeNet
	drv   *fakeDriver
	ready *fakeReady
	dir   string
}

func newRig(t *testing.T) *rig {
	t.Helper()
	dir := t.TempDir()
	st := newMemStore()
	img := filepath.Join(dir, "base.img")
	if err := os.WriteFile(img, []byte("rootfs"), 0o600); err != nil {
		t.Fatal(err)
	}
	st.images["i1"] = record.Image{ID: "i1", Name: "base", Path: img, SizeBytes: 6}
	st.kernels["k1"] = record.Kernel{ID: "k1", Name: "k", Path: "/boot/vmlinuz"}
	r := &rig{st: st, net: &fakeNet{taps: map[string]string{}}, drv: newFakeDriver(), ready: &fakeReady{}, dir: dir}
	r.m = New(Options{
		StateDir: dir, Subnet: netip.MustParsePrefix("172.30.0.0/24"),
		Gateway: netip.MustParseAddr("172.30.0.1"), DefaultDriver: "fake",
		ReadyTimeout: time.Second, StopTimeout: time.Second,
	}, st, r.net, fakeDisks{}, r.ready, map[string]vmm.Driver{"fake": r.drv}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	return r
}

func req(name string) CreateRequest {
	return CreateRequest{Name: name, Image: "base", VCPUs: 1, MemoryMiB: 256}
}

// assertNothingHeld checks that no resource of any VM is left.
func (r *rig) assertNothingHeld(t *testing.T) {
	t.Helper()
	if n := r.net.count(); n != 0 {
		t.Errorf("%d taps left", n)
	}
	if n := r.drv.live(); n != 0 {
		t.Errorf("%d VMM processes left", n)
	}
	if len(r.st.vms) != 0 || len(r.st.leases) != 0 {
		t.Errorf("rows left: vms=%v leases=%v", r.st.vms, r.st.leases)
	}
	if ents, _ := os.ReadDir(filepath.Join(r.dir, "vms")); len(ents) != 0 {
		t.Errorf("VM dirs left: %v", ents)
	}
}

func TestCreateRunsAndRemoveReleasesEverything(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	v, err := r.m.Create(ctx, req("one"))
	if err != nil {
		t.Fatal(err)
	}
	if v.State != record.VMRunning || v.IP != netip.MustParseAddr("172.30.0.2") || r.net.taps[v.Tap] != v.ID {
		t.Fatalf("unexpected VM after create: %+v taps=%v", v, r.net.taps)
	}
	if _, ok := Runtime(v); !ok {
		t.Fatal("runtime state not recorded")
	}
	if err := r.m.Remove(ctx, "one", false); err == nil || !errors.Is(err, ErrState) {
		t.Fatalf("rm of running VM without force: %v", err)
	}
	if err := r.m.Remove(ctx, "one", true); err != nil {
		t.Fatal(err)
	}
	r.assertNothingHeld(t)
}

func TestCreateFailureLeavesNothing(t *testing.T) {
	r := newRig(t)
	r.ready.err = errors.New("guest never answered")
	_, err := r.m.Create(context.Background(), req("bad"))
	if err == nil {
		t.Fatal("create succeeded with a guest that never gets ready")
	}
	if !strings.Contains(err.Error(), "fake boot line 2") {
		t.Errorf("error lacks the console tail: %v", err)
	}
	r.assertNothingHeld(t)

	r.ready.err = nil
	r.drv.startErr = errors.New("vmm exploded")
	if _, err := r.m.Create(context.Background(), req("bad")); err == nil || !strings.Contains(err.Error(), "vmm exploded") {
		t.Fatalf("create with failing VMM: %v", err)
	}
	r.assertNothingHeld(t)
}

func TestCreateRejectsBadInput(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	cases := map[string]CreateRequest{
		"slash in name":   {Name: "a/b", Image: "base", VCPUs: 1, MemoryMiB: 256},
		"space in name":   {Name: "a b", Image: "base", VCPUs: 1, MemoryMiB: 256},
		"zero vcpus":      {Name: "a", Image: "base", VCPUs: 0, MemoryMiB: 256},
		"too much memory": {Name: "a", Image: "base", VCPUs: 1, MemoryMiB: 1 << 30},
		"disk too small":  {Name: "a", Image: "base", VCPUs: 1, MemoryMiB: 256, DiskSizeBytes: 1},
		"unknown image":   {Name: "a", Image: "nope", VCPUs: 1, MemoryMiB: 256},
		"unknown kernel":  {Name: "a", Image: "base", Kernel: "nope", VCPUs: 1, MemoryMiB: 256},
		"unknown vmm":     {Name: "a", Image: "base", VCPUs: 1, MemoryMiB: 256, VMM: "bochs"},
	}
	for name, c := range cases {
		if _, err := r.m.Create(ctx, c); err == nil {
			t.Errorf("%s: accepted", name)
		}
		r.assertNothingHeld(t)
	}
	if _, err := r.m.Create(ctx, req("dup")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.m.Create(ctx, req("dup")); !errors.Is(err, record.ErrConflict) {
		t.Fatalf("duplicate name: %v", err)
	}
	if len(r.st.vms) != 1 || r.net.count() != 1 || r.drv.live() != 1 {
		t.Fatalf("duplicate create disturbed the first VM: vms=%d taps=%d procs=%d", len(r.st.vms), r.net.count(), r.drv.live())
	}
}

func TestStopStartKill(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	if _, err := r.m.Create(ctx, req("s")); err != nil {
		t.Fatal(err)
	}
	v, err := r.m.Stop(ctx, "s")
	if err != nil || v.State != record.VMStopped || r.net.count() != 0 || r.drv.live() != 0 {
		t.Fatalf("stop: %v %+v", err, v)
	}
	if _, err := r.m.Stop(ctx, "s"); err != nil {
		t.Fatalf("second stop: %v", err)
	}
	v, err = r.m.Start(ctx, "s")
	if err != nil || v.State != record.VMRunning || r.drv.live() != 1 {
		t.Fatalf("start: %v %+v", err, v)
	}
	if _, err := r.m.Kill(ctx, "s"); err != nil || r.drv.live() != 0 || r.net.count() != 0 {
		t.Fatalf("kill: %v", err)
	}
	if _, err := r.m.Kill(ctx, "s"); err != nil {
		t.Fatalf("second kill: %v", err)
	}
}

func TestReconcileAdoptsLiveAndStopsDead(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	for _, n := range []string{"live", "dead"} {
		if _, err := r.m.Create(ctx, req(n)); err != nil {
			t.Fatal(err)
		}
	}
	// A half-created VM left by a daemon that died mid-create.
	half := &record.VM{Name: "half", State: record.VMCreating}
	_ = r.st.CreateVM(ctx, half)
	_, _ = r.st.AllocateLease(ctx, half.ID, r.m.opts.Subnet)

	dead, _ := r.st.GetVM(ctx, "dead")
	st, _ := Runtime(dead)
	r.drv.procs[st.PID].end() // the VMM died while no daemon ran

	// A new daemon: fresh manager, same store, network and host processes.
	m2 := New(r.m.opts, r.st, r.net, fakeDisks{}, r.ready, map[string]vmm.Driver{"fake": r.drv}, r.m.log)
	if err := m2.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	live, _ := r.st.GetVM(ctx, "live")
	if live.State != record.VMRunning || m2.instance(live.ID) == nil {
		t.Fatalf("live VM not re-adopted: %+v", live)
	}
	dead, _ = r.st.GetVM(ctx, "dead")
	if dead.State != record.VMStopped || dead.Runtime != nil {
		t.Fatalf("dead VM not marked stopped: %+v", dead)
	}
	if _, err := r.st.GetVM(ctx, "half"); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("half-created VM not rolled back: %v", err)
	}
	if _, ok := r.st.leases[half.ID]; ok {
		t.Fatal("half-created VM's lease kept")
	}
	if r.net.count() != 1 {
		t.Fatalf("taps after reconcile: %v", r.net.taps)
	}
}

// A kernel the driver cannot boot (a bzImage without an extracted vmlinux
// for a Firecracker-like driver) is refused before anything runs.
func TestCreateRefusesKernelTheDriverCannotBoot(t *testing.T) {
	r := newRig(t)
	r.drv.needsELF = true
	_, err := r.m.Create(context.Background(), req("fc"))
	if !errors.Is(err, vmm.ErrInvalidSpec) || !strings.Contains(err.Error(), "banger kernel import") {
		t.Fatalf("want an invalid-spec error pointing at kernel import, got %v", err)
	}
	r.assertNothingHeld(t)
	r.st.kernels["k1"] = record.Kernel{ID: "k1", Name: "k", Path: "/boot/vmlinuz", Vmlinux: "/k/vmlinux"}
	if _, err := r.m.Create(context.Background(), req("fc")); err != nil {
		t.Fatalf("with a vmlinux the same create works: %v", err)
	}
}
