package firecracker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"banger/internal/vmm"
	"banger/internal/vmm/firecracker/fcfake"
	"banger/internal/vmm/vmmtest"
)

func TestMain(m *testing.M) {
	// The test binary doubles as the fake firecracker (see fakeBinary).
	fcfake.MainFromEnv()
	os.Exit(m.Run())
}

// fakeBinary writes a "firecracker" that re-executes this test binary as
// fcfake with env.
func fakeBinary(t *testing.T, env map[string]string) string {
	t.Helper()
	p, err := fcfake.WriteWrapper(t.TempDir(), env)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func noKVMCheck(context.Context) error { return nil }

func fakeDriver(t *testing.T, env map[string]string) *Driver {
	return New(Options{Binary: fakeBinary(t, env), KVMProbe: noKVMCheck})
}

// testSpec is a bootable spec for the fake: an ELF "kernel" and a raw disk.
func testSpec(t *testing.T, runDir string) vmm.Spec {
	t.Helper()
	dir := t.TempDir()
	kernel := filepath.Join(dir, "vmlinux")
	disk := filepath.Join(dir, "root.img")
	if err := os.WriteFile(kernel, []byte("\x7fELF\x02\x01\x01 fake vmlinux"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(disk, make([]byte, 1<<16), 0o644); err != nil {
		t.Fatal(err)
	}
	return vmm.Spec{
		ID: "vm-" + fmt.Sprint(time.Now().UnixNano()%1e6), VCPUs: 2, MemoryMiB: 256,
		Kernel: kernel, Cmdline: "root=/dev/vda rw",
		Disks:  []vmm.Disk{{Path: disk, Format: vmm.FormatRaw}},
		NICs:   []vmm.NetIf{{Tap: "tap-test0", MAC: "52:54:00:00:00:01"}},
		RunDir: runDir,
	}
}

func startFake(t *testing.T, d *Driver, spec vmm.Spec) vmm.Instance {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	inst, err := d.Start(ctx, spec)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = inst.Kill(context.Background()) })
	return inst
}

func TestConformance(t *testing.T) {
	vmmtest.Run(t, func(t *testing.T) vmm.Driver { return fakeDriver(t, nil) }, vmmtest.Fixture{
		Spec:           testSpec,
		AgentEcho:      true,
		ReadyMarker:    fcfake.ReadyMarker,
		GracefulMarker: fcfake.ShutdownMarker,
		BootTimeout:    20 * time.Second,
	})
}

func TestStartConfiguresTheVMM(t *testing.T) {
	spec := testSpec(t, t.TempDir())
	inst := startFake(t, fakeDriver(t, nil), spec)
	st := inst.State()
	var cfg struct {
		Boot struct {
			BootArgs string `json:"boot_args"`
			Kernel   string `json:"kernel_image_path"`
		} `json:"boot-source"`
		Machine struct {
			Vcpus int `json:"vcpu_count"`
			Mem   int `json:"mem_size_mib"`
		} `json:"machine-config"`
		Drives []struct {
			ID   string `json:"drive_id"`
			Root bool   `json:"is_root_device"`
		} `json:"drives"`
		Nets []struct {
			Tap string `json:"host_dev_name"`
			MAC string `json:"guest_mac"`
		} `json:"network-interfaces"`
		Vsock struct {
			UDS string `json:"uds_path"`
		} `json:"vsock"`
	}
	api := newClient(st.ControlSock)
	defer api.close()
	if err := api.do(context.Background(), http.MethodGet, "/vm/config", nil, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Boot.BootArgs != BootArgs(spec.Cmdline) || cfg.Boot.Kernel != spec.Kernel {
		t.Errorf("boot-source %+v", cfg.Boot)
	}
	if cfg.Machine.Vcpus != spec.VCPUs || cfg.Machine.Mem != spec.MemoryMiB {
		t.Errorf("machine-config %+v", cfg.Machine)
	}
	if len(cfg.Drives) != 1 || cfg.Drives[0].ID != rootDriveID || !cfg.Drives[0].Root {
		t.Errorf("drives %+v", cfg.Drives)
	}
	if len(cfg.Nets) != 1 || cfg.Nets[0].Tap != spec.NICs[0].Tap || cfg.Nets[0].MAC != spec.NICs[0].MAC {
		t.Errorf("network-interfaces %+v", cfg.Nets)
	}
	if cfg.Vsock.UDS != st.AgentSock {
		t.Errorf("vsock uds %q, state says %q", cfg.Vsock.UDS, st.AgentSock)
	}
	info, err := api.describe(context.Background())
	if err != nil || info.State != "Running" || info.ID != spec.ID {
		t.Errorf("GET / = %+v, %v", info, err)
	}
	// A second Start in the same run dir fails and leaves the first alone.
	if _, err := fakeDriver(t, nil).Start(context.Background(), spec); err == nil {
		t.Fatal("second Start in the same run dir succeeded")
	}
	if !inst.Running() {
		t.Fatal("first instance died after a refused second Start")
	}
	if _, err := os.Stat(st.ControlSock); err != nil {
		t.Fatalf("refused second Start removed the first's socket: %v", err)
	}
}

// TestClientSendsContentLength: the fake, like Firecracker, reads bodies
// only through Content-Length and answers "Empty PUT request" otherwise.
func TestClientSendsContentLength(t *testing.T) {
	spec, err := fcfake.DefaultSpec()
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "api.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := fcfake.NewServer(fcfake.Config{ID: "x", Exit: func(int) {}}, spec)
	hs := &http.Server{Handler: srv}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close(); srv.Close() })

	api := newClient(sock)
	defer api.close()
	ctx := context.Background()
	if err := api.do(ctx, "PUT", "/machine-config", machineConfig{VcpuCount: 2, MemSizeMib: 512}, nil); err != nil {
		t.Fatalf("PUT with a body: %v", err)
	}
	var mc machineConfig
	if err := api.do(ctx, "GET", "/machine-config", nil, &mc); err != nil || mc.MemSizeMib != 512 {
		t.Fatalf("GET /machine-config = %+v, %v", mc, err)
	}
	err = api.do(ctx, "PUT", "/machine-config", machineConfig{VcpuCount: 64, MemSizeMib: 512}, nil)
	if err == nil || !strings.Contains(err.Error(), "deserializing") || !strings.Contains(err.Error(), "HTTP 400") {
		t.Fatalf("invalid vcpu count: error %v should carry the fault message", err)
	}
	want := []string{"PUT /machine-config", "GET /machine-config", "PUT /machine-config"}
	if got := srv.Requests(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("fake saw %v, want %v", got, want)
	}
}

// TestConfigCallsMatchTheAPIDescription validates every body the driver
// sends against the official v1.16.1 schemas.
func TestConfigCallsMatchTheAPIDescription(t *testing.T) {
	spec, err := fcfake.DefaultSpec()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range ConfigCalls(goldenSpec()) {
		op, _, ok := spec.Route(c.Method, c.Path)
		if !ok {
			t.Errorf("%s %s is not in the API", c.Method, c.Path)
			continue
		}
		body, _ := json.Marshal(c.Body)
		if err := op.ValidateBody(body); err != nil {
			t.Errorf("%s %s body %s: %v", c.Method, c.Path, body, err)
		}
	}
}

func TestValidate(t *testing.T) {
	d := New(Options{})
	dir := t.TempDir()
	bz := make([]byte, 0x400)
	copy(bz, "MZ")
	copy(bz[0x202:], "HdrS")
	bzPath := filepath.Join(dir, "vmlinuz")
	if err := os.WriteFile(bzPath, bz, 0o644); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, []byte("just text"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		mutate func(*vmm.Spec)
		want   string
	}{
		"bzImage":      {func(s *vmm.Spec) { s.Kernel = bzPath }, "compressed bzImage"},
		"not elf":      {func(s *vmm.Spec) { s.Kernel = plain }, "not an ELF"},
		"33 vcpus":     {func(s *vmm.Spec) { s.VCPUs = 33 }, "1 to 32"},
		"qcow2":        {func(s *vmm.Spec) { s.Disks[0].Format = vmm.FormatQcow2 }, "raw"},
		"cid 2":        {func(s *vmm.Spec) { s.GuestCID = 2 }, ">= 3"},
		"bad id":       {func(s *vmm.Spec) { s.ID = "a_b" }, "letters, digits"},
		"long run dir": {func(s *vmm.Spec) { s.RunDir = "/" + strings.Repeat("d", 110) }, "longer than"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := testSpec(t, t.TempDir())
			tc.mutate(&s)
			err := d.Validate(s)
			if !errors.Is(err, vmm.ErrInvalidSpec) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want ErrInvalidSpec mentioning %q", err, tc.want)
			}
		})
	}
	if err := d.Validate(testSpec(t, t.TempDir())); err != nil {
		t.Fatalf("valid spec: %v", err)
	}
	s := testSpec(t, t.TempDir())
	s.Kernel = bzPath
	if err := d.Validate(s); !strings.Contains(err.Error(), "banger kernel import") {
		t.Fatalf("bzImage error %q does not say how to fix it", err)
	}
}

func TestAvailable(t *testing.T) {
	ctx := context.Background()
	missing := New(Options{Binary: filepath.Join(t.TempDir(), "nope"), KVMProbe: noKVMCheck})
	if err := missing.Available(ctx); !errors.Is(err, vmm.ErrUnavailable) {
		t.Fatalf("missing binary: %v", err)
	}
	noKVM := New(Options{Binary: fakeBinary(t, nil), KVMProbe: func(context.Context) error {
		return errors.New("no /dev/kvm")
	}})
	if err := noKVM.Available(ctx); !errors.Is(err, vmm.ErrUnavailable) || !strings.Contains(err.Error(), "no /dev/kvm") {
		t.Fatalf("probe failure: %v", err)
	}
	if err := fakeDriver(t, nil).Available(ctx); err != nil {
		t.Fatalf("fake with probe ok: %v", err)
	}
}

func TestHasModule(t *testing.T) {
	p := filepath.Join(t.TempDir(), "modules")
	content := "kvm_pvm 135168 0 - Live 0x0000000000000000\nkvm 1146880 1 kvm_pvm, Live 0x0\n"
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	for mod, want := range map[string]bool{"kvm_pvm": true, "kvm": true, "kvm_intel": false, "pvm": false} {
		got, err := hasModule(p, mod)
		if err != nil || got != want {
			t.Errorf("hasModule(%q) = %v, %v; want %v", mod, got, err, want)
		}
	}
}

// assertOnlyConsole checks the contract of a failed Start.
func assertOnlyConsole(t *testing.T, runDir string) {
	t.Helper()
	entries, _ := os.ReadDir(runDir)
	for _, e := range entries {
		if e.Name() != consoleName {
			t.Errorf("failed Start left %s in the run dir", e.Name())
		}
	}
}

func TestStartFailures(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	script := func(t *testing.T, body string) string {
		p := filepath.Join(t.TempDir(), "firecracker")
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Run("api rejects config", func(t *testing.T) {
		spec := testSpec(t, t.TempDir())
		// Two NICs on one tap: valid for Validate, refused by the VMM
		// after the process is up.
		spec.NICs = append(spec.NICs, vmm.NetIf{Tap: spec.NICs[0].Tap, MAC: "52:54:00:00:00:02"})
		_, err := fakeDriver(t, nil).Start(ctx, spec)
		if err == nil || !strings.Contains(err.Error(), "already in use") {
			t.Fatalf("Start = %v, want the VMM's fault message", err)
		}
		assertOnlyConsole(t, spec.RunDir)
	})
	t.Run("vmm exits at once", func(t *testing.T) {
		spec := testSpec(t, t.TempDir())
		d := New(Options{Binary: script(t, "echo 'Error: no luck today' >&2; exit 1"), KVMProbe: noKVMCheck})
		_, err := d.Start(ctx, spec)
		if err == nil || !strings.Contains(err.Error(), "no luck today") {
			t.Fatalf("Start = %v, want the VMM's log in the error", err)
		}
		assertOnlyConsole(t, spec.RunDir)
	})
	t.Run("socket never appears", func(t *testing.T) {
		spec := testSpec(t, t.TempDir())
		pidFile := filepath.Join(t.TempDir(), "pid")
		d := New(Options{
			Binary:        script(t, "echo $$ > "+pidFile+"; echo 'hung forever'; exec sleep 60"),
			KVMProbe:      noKVMCheck,
			SocketTimeout: 500 * time.Millisecond,
		})
		_, err := d.Start(ctx, spec)
		if err == nil || !strings.Contains(err.Error(), "hung forever") {
			t.Fatalf("Start = %v, want a timeout quoting the log", err)
		}
		raw, _ := os.ReadFile(pidFile)
		var pid int
		if _, err := fmt.Sscan(string(raw), &pid); err != nil {
			t.Fatalf("reading pid: %v", err)
		}
		if start, err := vmm.ProcStartTime(pid); err == nil && vmm.ProcessAlive(pid, start) {
			t.Fatalf("VMM pid %d survives a failed Start", pid)
		}
		assertOnlyConsole(t, spec.RunDir)
	})
}

func TestDialAgentWaitsForTheGuest(t *testing.T) {
	d := fakeDriver(t, map[string]string{fcfake.EnvGuestReadyDelay: "700ms"})
	inst := startFake(t, d, testSpec(t, t.TempDir()))
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := inst.DialAgent(ctx)
	if err != nil {
		t.Fatalf("DialAgent: %v", err)
	}
	defer c.Close()
	if waited := time.Since(began); waited < 300*time.Millisecond {
		t.Fatalf("DialAgent returned after %v, before the guest listened", waited)
	}
	if _, err := io.WriteString(c, "hello agent\n"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len("hello agent\n"))
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "hello agent\n" {
		t.Fatalf("echo %q, %v", buf, err)
	}
}

func TestDialAgentGivesUpWithCtx(t *testing.T) {
	d := New(Options{Binary: fakeBinary(t, nil), KVMProbe: noKVMCheck, AgentPort: 4242})
	inst := startFake(t, d, testSpec(t, t.TempDir()))
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	if c, err := inst.DialAgent(ctx); err == nil {
		c.Close()
		t.Fatal("DialAgent to a port without listener succeeded")
	} else if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("DialAgent = %v, want the ctx deadline", err)
	}
	if err := inst.Kill(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := inst.DialAgent(context.Background()); !errors.Is(err, vmm.ErrNotRunning) {
		t.Fatalf("DialAgent after Kill = %v, want ErrNotRunning", err)
	}
}

func TestShutdownIsGraceful(t *testing.T) {
	inst := startFake(t, fakeDriver(t, nil), testSpec(t, t.TempDir()))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := inst.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if inst.Running() {
		t.Fatal("running after Shutdown")
	}
	console, _ := os.ReadFile(inst.State().ConsoleLog)
	if !strings.Contains(string(console), fcfake.ShutdownMarker) {
		t.Fatalf("no guest reset in console: %s", console)
	}
}

// TestShutdownKillsAnUnresponsiveGuest: a guest that ignores Ctrl-Alt-Del
// is killed when ctx ends, and Shutdown still reports success.
func TestShutdownKillsAnUnresponsiveGuest(t *testing.T) {
	d := fakeDriver(t, map[string]string{fcfake.EnvIgnoreCtrlAltDel: "1"})
	inst := startFake(t, d, testSpec(t, t.TempDir()))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := inst.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	st := inst.State()
	if inst.Running() || vmm.ProcessAlive(st.PID, st.PIDStart) {
		t.Fatal("VMM alive after Shutdown")
	}
	console, _ := os.ReadFile(st.ConsoleLog)
	if strings.Contains(string(console), fcfake.ShutdownMarker) {
		t.Fatal("guest reset although it ignores Ctrl-Alt-Del: the test proves nothing")
	}
}

// TestAttachNeedsTheAPI: a live process with the recorded start time whose
// socket does not answer is not a usable instance.
func TestAttachNeedsTheAPI(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	start, err := vmm.ProcStartTime(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	runDir := t.TempDir()
	st := vmm.State{Driver: Name, PID: cmd.Process.Pid, PIDStart: start,
		ControlSock: APISocket(runDir), AgentSock: VsockSocket(runDir), RunDir: runDir}
	if _, err := fakeDriver(t, nil).Attach(context.Background(), st); !errors.Is(err, vmm.ErrNotRunning) {
		t.Fatalf("Attach = %v, want ErrNotRunning", err)
	}
	st.Driver = "qemu"
	if _, err := fakeDriver(t, nil).Attach(context.Background(), st); err == nil {
		t.Fatal("Attach accepted another driver's state")
	}
}
