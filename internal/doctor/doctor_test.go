package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"time"

	"banger/internal/config"
)

func run(t *testing.T, p *fakeProbe, edit func(*config.Config)) Report {
	t.Helper()
	cfg := config.Default()
	if edit != nil {
		edit(&cfg)
	}
	r := Run(context.Background(), cfg, Options{Probe: p, CommandTimeout: 100 * time.Millisecond})
	for _, c := range r.Checks {
		if c.Status != OK && c.Fix == "" {
			t.Errorf("check %s is %s without a fix: %s", c.Name, c.Status, c.Detail)
		}
		if c.Status == OK && c.Fix != "" {
			t.Errorf("check %s is ok but has a fix: %s", c.Name, c.Fix)
		}
	}
	return r
}

func mustCheck(t *testing.T, r Report, name string, want Status, detailParts ...string) Check {
	t.Helper()
	c, ok := r.Check(name)
	if !ok {
		t.Fatalf("no check %q in %+v", name, r.Checks)
	}
	if c.Status != want {
		t.Fatalf("check %s = %s (%s; fix %q), want %s", name, c.Status, c.Detail, c.Fix, want)
	}
	for _, p := range detailParts {
		if !strings.Contains(c.Detail, p) {
			t.Errorf("check %s detail %q lacks %q", name, c.Detail, p)
		}
	}
	return c
}

func TestHealthyHostAllOK(t *testing.T) {
	r := run(t, healthyHost(), nil)
	for _, c := range r.Checks {
		if c.Status != OK {
			t.Errorf("check %s = %s: %s", c.Name, c.Status, c.Detail)
		}
	}
	if r.Driver != config.Firecracker || !r.VMMUsable("") || !r.VMMUsable(config.QEMU) || r.ExitCode() != 0 {
		t.Fatalf("driver %s usable %v exit %d", r.Driver, r.Usable, r.ExitCode())
	}
	mustCheck(t, r, "qemu", OK, "QEMU emulator version 7.2.15")
	mustCheck(t, r, "nftables", OK, "present (inet banger)")
}

func TestPVMHostRunsQEMUWithTCG(t *testing.T) {
	r := run(t, pvmHost(), nil)
	kvm := mustCheck(t, r, "kvm", Warn, "PVM", "Firecracker cannot run")
	if !strings.Contains(kvm.Fix, "tcg") {
		t.Errorf("kvm fix %q does not point at tcg", kvm.Fix)
	}
	mustCheck(t, r, "firecracker", Warn, "not found")
	mustCheck(t, r, "jailer", Warn, "not found")
	mustCheck(t, r, "vmm", OK, "qemu with tcg")
	if r.Driver != config.QEMU || r.Accel != config.TCG {
		t.Fatalf("chose %s/%s", r.Driver, r.Accel)
	}
	if !r.VMMUsable("") || r.VMMUsable(config.Firecracker) || r.ExitCode() != 0 {
		t.Fatalf("usable %v exit %d", r.Usable, r.ExitCode())
	}
}

func TestKVMRequiredByConfig(t *testing.T) {
	for name, edit := range map[string]func(*config.Config){
		"driver firecracker": func(c *config.Config) { c.VMM.Driver = config.Firecracker },
		"qemu accel kvm":     func(c *config.Config) { c.VMM.Driver, c.VMM.Accel = config.QEMU, config.KVM },
	} {
		t.Run(name, func(t *testing.T) {
			p := pvmHost()
			p.bins["firecracker"] = "/usr/bin/firecracker"
			r := run(t, p, edit)
			mustCheck(t, r, "kvm", Fail, "PVM")
			mustCheck(t, r, "vmm", Fail, "KVM is unusable")
			if r.VMMUsable("") || r.ExitCode() != 1 {
				t.Fatalf("usable %v exit %d", r.Usable, r.ExitCode())
			}
		})
	}
}

func TestKVMFixes(t *testing.T) {
	p := healthyHost()
	p.kvmErr = &fs.PathError{Op: "open", Path: KVMDevice, Err: fs.ErrPermission}
	c := mustCheck(t, run(t, p, nil), "kvm", Warn, "permission denied")
	if !strings.Contains(c.Fix, "group kvm") {
		t.Errorf("fix %q", c.Fix)
	}
	p = healthyHost()
	delete(p.files, KVMDevice)
	c = mustCheck(t, run(t, p, nil), "kvm", Warn, "does not exist")
	if !strings.Contains(c.Fix, "modprobe") {
		t.Errorf("fix %q", c.Fix)
	}
}

func TestMissingBinaries(t *testing.T) {
	cases := []struct {
		bin, check string
		want       Status
		fixPart    string
	}{
		{"mkfs.ext4", "mkfs.ext4", Fail, "e2fsprogs"},
		{"e2fsck", "e2fsck", Fail, "e2fsprogs"},
		{"resize2fs", "resize2fs", Fail, "e2fsprogs"},
		{"qemu-img", "qemu-img", Fail, "qemu-utils"},
		{"qemu-system-x86_64", "qemu", Fail, "qemu-system-x86"},
		{"debootstrap", "debootstrap", Warn, "apt-get install debootstrap"},
	}
	for _, tc := range cases {
		t.Run(tc.bin, func(t *testing.T) {
			p := pvmHost()
			delete(p.bins, tc.bin)
			r := run(t, p, nil)
			c := mustCheck(t, r, tc.check, tc.want, "not found")
			if !strings.Contains(c.Fix, tc.fixPart) {
				t.Errorf("fix %q lacks %q", c.Fix, tc.fixPart)
			}
			if wantExit := map[Status]int{Fail: 1, Warn: 0}[tc.want]; r.ExitCode() != wantExit {
				t.Errorf("exit %d, want %d", r.ExitCode(), wantExit)
			}
		})
	}
}

func TestBinariesOfOtherDriver(t *testing.T) {
	p := pvmHost()
	r := run(t, p, func(c *config.Config) { c.VMM.Driver = config.QEMU })
	mustCheck(t, r, "firecracker", OK, "not needed")
	mustCheck(t, r, "jailer", OK, "not needed")

	// qemu-img and qemu are only a fallback when firecracker is chosen.
	p = healthyHost()
	delete(p.bins, "qemu-img")
	delete(p.bins, "qemu-system-x86_64")
	r = run(t, p, nil)
	mustCheck(t, r, "qemu-img", Warn)
	mustCheck(t, r, "qemu", Warn)
	if r.Driver != config.Firecracker || r.ExitCode() != 0 {
		t.Fatalf("driver %s exit %d", r.Driver, r.ExitCode())
	}
	r = run(t, p, func(c *config.Config) { c.VMM.Driver = config.Firecracker })
	mustCheck(t, r, "qemu", OK, "not needed")
}

func TestBrokenQEMU(t *testing.T) {
	p := pvmHost()
	delete(p.versions, "/usr/bin/qemu-system-x86_64")
	p.verErr = errors.New("running qemu --version: exit status 127: error while loading shared libraries")
	r := run(t, p, nil)
	mustCheck(t, r, "qemu", Fail, "does not run", "shared libraries")
	mustCheck(t, r, "vmm", Fail, "missing or broken")
	if r.VMMUsable("") || r.ExitCode() != 1 {
		t.Fatalf("usable %v exit %d", r.Usable, r.ExitCode())
	}
}

// A VMM binary that never answers must not stall doctor.
func TestHangingCommandsTimeOut(t *testing.T) {
	p := pvmHost()
	delete(p.versions, "/usr/bin/qemu-system-x86_64")
	p.nftBlock = true
	start := time.Now()
	r := run(t, p, nil)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Run took %v", d)
	}
	mustCheck(t, r, "qemu", Fail, "deadline exceeded")
	mustCheck(t, r, "nftables", Fail, "deadline exceeded")
}

func TestNFTables(t *testing.T) {
	p := pvmHost()
	p.tables = nil
	mustCheck(t, run(t, p, nil), "nftables", OK, "0 tables", "not created yet")

	p.nftErr = &fs.PathError{Op: "netlink", Path: "nftables", Err: fs.ErrPermission}
	c := mustCheck(t, run(t, p, nil), "nftables", Fail, "permission denied")
	if !strings.Contains(c.Fix, "root") {
		t.Errorf("fix %q", c.Fix)
	}
	p.nftErr = errors.New("protocol not supported")
	c = mustCheck(t, run(t, p, nil), "nftables", Fail, "protocol not supported")
	if !strings.Contains(c.Fix, "CONFIG_NF_TABLES") {
		t.Errorf("fix %q", c.Fix)
	}
}

func TestIPForward(t *testing.T) {
	p := pvmHost()
	p.contents[ipForwardPath] = "0\n"
	c := mustCheck(t, run(t, p, nil), "ip_forward", Warn, "off")
	if !strings.Contains(c.Fix, "net.ipv4.ip_forward=1") {
		t.Errorf("fix %q", c.Fix)
	}
	delete(p.contents, ipForwardPath)
	mustCheck(t, run(t, p, nil), "ip_forward", Warn, "reading")
}

func TestDirectories(t *testing.T) {
	cases := []struct {
		name    string
		fi      *FileInfo
		err     error
		want    Status
		detail  string
		fixPart string
	}{
		{"missing", nil, nil, Warn, "does not exist", "install -d -o root -g root -m 0700"},
		{"file", &FileInfo{Mode: 0o644}, nil, Fail, "not a directory", "move"},
		{"not root", &FileInfo{Mode: fs.ModeDir | 0o755, UID: 1000}, nil, Fail, "uid 1000", "chown root:root"},
		{"world-writable", &FileInfo{Mode: fs.ModeDir | 0o777}, nil, Fail, "world-writable", "chmod o-w"},
		{"unreadable", nil, fs.ErrPermission, Fail, "permission denied", "reachable"},
		{"fine", &FileInfo{Mode: fs.ModeDir | 0o700}, nil, OK, "root, -rwx------", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := pvmHost()
			delete(p.files, "/var/lib/banger")
			if tc.fi != nil {
				p.files["/var/lib/banger"] = *tc.fi
			}
			if tc.err != nil {
				p.statErr["/var/lib/banger"] = tc.err
			}
			c := mustCheck(t, run(t, p, nil), "state_dir", tc.want, tc.detail)
			if !strings.Contains(c.Fix, tc.fixPart) {
				t.Errorf("fix %q lacks %q", c.Fix, tc.fixPart)
			}
		})
	}
	p := pvmHost()
	p.files["/run/banger"] = FileInfo{Mode: fs.ModeDir | 0o1777}
	mustCheck(t, run(t, p, nil), "socket_dir", Fail, "/run/banger is world-writable")
}

func TestFreeSpace(t *testing.T) {
	for _, tc := range []struct {
		free uint64
		want Status
	}{{50 << 30, OK}, {10<<30 - 1, Warn}, {2 << 30, Warn}, {2<<30 - 1, Fail}} {
		p := pvmHost()
		p.free["/var/cache/banger"] = tc.free
		r := run(t, p, nil)
		mustCheck(t, r, "free cache_dir", tc.want, "free at /var/cache/banger")
		mustCheck(t, r, "free state_dir", OK)
	}

	// A state_dir not created yet is measured where it will be created.
	p := pvmHost()
	delete(p.files, "/var/lib/banger")
	delete(p.files, "/var/lib")
	p.free["/var"] = 1 << 30
	r := run(t, p, nil)
	mustCheck(t, r, "free state_dir", Fail, "1.0 GiB free at /var")

	p = pvmHost()
	p.freeErr = errors.New("statfs /var/lib/banger: input/output error")
	mustCheck(t, run(t, p, nil), "free state_dir", Warn, "input/output error")
}

func TestWriteText(t *testing.T) {
	p := pvmHost()
	delete(p.bins, "qemu-system-x86_64")
	r := run(t, p, nil)
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, c := range r.Checks {
		found := false
		for _, l := range lines {
			if strings.HasPrefix(l, strings.ToUpper(string(c.Status))) && strings.Contains(l, " "+c.Name+" ") && strings.HasSuffix(l, c.Detail) {
				found = true
			}
		}
		if !found {
			t.Errorf("no line for check %s in\n%s", c.Name, out)
		}
		if c.Fix != "" && !strings.Contains(out, "fix: "+c.Fix+"\n") {
			t.Errorf("fix of %s missing from\n%s", c.Name, out)
		}
	}
	if !strings.HasSuffix(out, "banger will use qemu with tcg: CANNOT run guests.\n") {
		t.Errorf("verdict missing from\n%s", out)
	}
	if err := r.WriteText(failWriter{}); err == nil {
		t.Error("write error swallowed")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteJSON(t *testing.T) {
	r := run(t, pvmHost(), nil)
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatalf("decoding %s: %v", b.String(), err)
	}
	if !reflect.DeepEqual(back, r) {
		t.Fatalf("JSON round trip changed the report:\n got %+v\nwant %+v", back, r)
	}
}
