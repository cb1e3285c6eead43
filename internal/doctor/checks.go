package doctor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"banger/internal/config"
)

// Free-space thresholds for the state and cache directories.
const (
	WarnFreeBytes = 10 << 30
	FailFreeBytes = 2 << 30
)

// need says how much the configuration depends on a binary.
type need int

const (
	unneeded need = iota // missing is fine (OK)
	optional             // missing degrades banger (Warn)
	required             // missing breaks banger (Fail)
)

type runner struct {
	cfg     config.Config
	p       Probe
	timeout time.Duration
	kvm     KVMStatus

	driver, accel, why string
	found              map[string]bool // binary check name -> usable
}

func (r *runner) run(ctx context.Context) Report {
	r.found = map[string]bool{}
	chosenQEMU := r.driver == config.QEMU
	checks := []Check{
		r.checkKVM(),
		r.binary(ctx, "firecracker", r.cfg.VMM.Firecracker, byDriver(r.cfg.VMM.Driver, config.Firecracker),
			"install the firecracker release binary (github.com/firecracker-microvm/firecracker/releases) on PATH, or set [vmm] firecracker = \"/path/to/firecracker\"", true),
		r.binary(ctx, "jailer", r.cfg.VMM.Jailer, min(optional, byDriver(r.cfg.VMM.Driver, config.Firecracker)),
			"install the jailer binary from the same firecracker release, or set [vmm] jailer = \"/path/to/jailer\"", false),
		r.binary(ctx, "qemu", r.cfg.VMM.QEMU, ifElse(chosenQEMU, required, byDriver(r.cfg.VMM.Driver, config.QEMU)),
			"apt-get install qemu-system-x86", true),
		r.binary(ctx, "qemu-img", "qemu-img", ifElse(chosenQEMU, required, optional), "apt-get install qemu-utils", false),
		r.binary(ctx, "debootstrap", "debootstrap", optional, "apt-get install debootstrap (needed to build images from scratch)", false),
		r.binary(ctx, "mkfs.ext4", "mkfs.ext4", required, "apt-get install e2fsprogs", false),
		r.binary(ctx, "e2fsck", "e2fsck", required, "apt-get install e2fsprogs", false),
		r.binary(ctx, "resize2fs", "resize2fs", required, "apt-get install e2fsprogs", false),
		r.checkNFTables(ctx),
		r.checkIPForward(),
		r.checkDir("state_dir", r.cfg.StateDir, "0700"),
		r.checkDir("cache_dir", r.cfg.CacheDir, "0755"),
		r.checkDir("socket_dir", filepath.Dir(r.cfg.Socket), "0755"),
		r.checkFree("free state_dir", r.cfg.StateDir),
		r.checkFree("free cache_dir", r.cfg.CacheDir),
	}
	usable := map[string]bool{
		config.Firecracker: r.found["firecracker"] && r.kvm.Usable(),
		config.QEMU:        r.found["qemu"] && (accelFor(r.cfg, config.QEMU, r.kvm) != config.KVM || r.kvm.Usable()),
	}
	checks = append(checks, r.checkVMM(usable[r.driver]))
	return Report{Checks: checks, Driver: r.driver, Accel: r.accel, Why: r.why, Usable: usable}
}

// byDriver: a binary of driver d is required when the config names d,
// optional under auto, and unneeded when the config names another driver.
func byDriver(configured, d string) need {
	switch configured {
	case d:
		return required
	case config.Auto:
		return optional
	}
	return unneeded
}

func ifElse(cond bool, a, b need) need {
	if cond {
		return a
	}
	return b
}

func (r *runner) checkKVM() Check {
	c := Check{Name: "kvm", Detail: r.kvm.Reason()}
	if r.kvm.Usable() {
		c.Status = OK
		return c
	}
	// KVM is only required when the config insists on it.
	c.Status = Warn
	if r.cfg.VMM.Driver == config.Firecracker || r.cfg.VMM.Accel == config.KVM {
		c.Status = Fail
	}
	switch {
	case r.kvm.PVM:
		c.Detail += "; QEMU must use TCG (slow) and Firecracker cannot run"
		c.Fix = "keep [vmm] driver = \"auto\" or \"qemu\" with accel = \"auto\" or \"tcg\"; for KVM speed run on a host with hardware (or nested) virtualisation"
	case !r.kvm.Present:
		c.Detail += "; QEMU falls back to TCG (slow) and Firecracker cannot run"
		c.Fix = "enable VT-x/AMD-V in firmware (or nested virtualisation for this VM), then modprobe kvm_intel or kvm_amd"
	case errors.Is(r.kvm.OpenErr, fs.ErrPermission):
		c.Fix = "run the daemon as root, or add its user to group kvm"
	default:
		c.Fix = "check dmesg for KVM errors; reload kvm_intel or kvm_amd"
	}
	return c
}

func (r *runner) binary(ctx context.Context, name, bin string, n need, fix string, version bool) Check {
	c := Check{Name: name}
	path, err := r.p.LookPath(bin)
	if err != nil {
		c.Detail = bin + " not found"
		switch n {
		case unneeded:
			c.Status, c.Detail = OK, c.Detail+" (not needed with vmm.driver = "+r.cfg.VMM.Driver+")"
			return c
		case optional:
			c.Status = Warn
		default:
			c.Status = Fail
		}
		c.Fix = fix
		return c
	}
	c.Status, c.Detail = OK, path
	if version {
		ctx, cancel := context.WithTimeout(ctx, r.timeout)
		defer cancel()
		v, err := r.p.Version(ctx, path)
		if err != nil {
			c.Status = max(n, optional).status()
			c.Detail = fmt.Sprintf("%s does not run: %v", path, err)
			c.Fix = "reinstall it: " + fix
			return c
		}
		c.Detail += ": " + v
	}
	r.found[name] = true
	return c
}

func (n need) status() Status {
	switch n {
	case required:
		return Fail
	case optional:
		return Warn
	}
	return OK
}

func (r *runner) checkNFTables(ctx context.Context) Check {
	c := Check{Name: "nftables"}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	tables, err := r.p.NFTables(ctx)
	if err != nil {
		c.Status, c.Detail = Fail, "listing nftables tables: "+err.Error()
		c.Fix = "run the daemon as root (CAP_NET_ADMIN) on a kernel with nf_tables (CONFIG_NF_TABLES); apt-get install nftables to inspect"
		if errors.Is(err, fs.ErrPermission) {
			c.Fix = "run the daemon as root (needs CAP_NET_ADMIN)"
		}
		return c
	}
	c.Status = OK
	c.Detail = fmt.Sprintf("netlink answers (%d tables); table %q ", len(tables), r.cfg.Network.Table)
	for _, t := range tables {
		if _, name, _ := strings.Cut(t, " "); name == r.cfg.Network.Table {
			c.Detail += "present (" + t + ")"
			return c
		}
	}
	c.Detail += "not created yet"
	return c
}

func (r *runner) checkIPForward() Check {
	c := Check{Name: "ip_forward"}
	data, err := r.p.ReadFile(ipForwardPath)
	switch v := strings.TrimSpace(string(data)); {
	case err != nil:
		c.Status, c.Detail = Warn, "reading "+ipForwardPath+": "+err.Error()
	case v == "1":
		c.Status, c.Detail = OK, "IPv4 forwarding is on"
		return c
	default:
		c.Status, c.Detail = Warn, "IPv4 forwarding is off ("+ipForwardPath+" = "+v+"): guests cannot reach beyond the host"
	}
	c.Fix = "sysctl -w net.ipv4.ip_forward=1 (persist it in /etc/sysctl.d/99-banger.conf)"
	return c
}

func (r *runner) checkDir(name, dir, mode string) Check {
	c := Check{Name: name}
	fi, err := r.p.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		c.Status, c.Detail = Warn, dir+" does not exist yet"
		c.Fix = "install -d -o root -g root -m " + mode + " " + dir + " (or let the daemon create it)"
	case err != nil:
		c.Status, c.Detail = Fail, "checking "+dir+": "+err.Error()
		c.Fix = "make " + dir + " reachable by root, or set " + configKey(name) + " elsewhere"
	case !fi.Mode.IsDir():
		c.Status, c.Detail = Fail, dir+" is not a directory"
		c.Fix = "move " + dir + " aside, or set " + configKey(name) + " elsewhere"
	case fi.UID != 0:
		c.Status, c.Detail = Fail, fmt.Sprintf("%s is owned by uid %d, not root: that user could tamper with what the root daemon uses", dir, fi.UID)
		c.Fix = "chown root:root " + dir
	case fi.Mode.Perm()&0o002 != 0:
		c.Status, c.Detail = Fail, fmt.Sprintf("%s is world-writable (%v)", dir, fi.Mode.Perm())
		c.Fix = "chmod o-w " + dir
	default:
		c.Status, c.Detail = OK, fmt.Sprintf("%s: root, %v", dir, fi.Mode.Perm())
	}
	return c
}

func configKey(check string) string {
	if check == "socket_dir" {
		return "socket"
	}
	return check
}

// checkFree measures the filesystem that holds dir, or will hold it once
// created (its nearest existing ancestor).
func (r *runner) checkFree(name, dir string) Check {
	c := Check{Name: name}
	at := dir
	for {
		if _, err := r.p.Stat(at); err == nil || at == filepath.Dir(at) {
			break
		}
		at = filepath.Dir(at)
	}
	free, err := r.p.FreeBytes(at)
	if err != nil {
		c.Status, c.Detail = Warn, "measuring free space at "+at+": "+err.Error()
		c.Fix = "check that " + at + " is a mounted filesystem"
		return c
	}
	c.Detail = fmt.Sprintf("%s free at %s", gib(free), at)
	switch {
	case free < FailFreeBytes:
		c.Status = Fail
	case free < WarnFreeBytes:
		c.Status = Warn
	default:
		c.Status = OK
		return c
	}
	c.Detail += fmt.Sprintf(" (want %s, at least %s)", gib(WarnFreeBytes), gib(FailFreeBytes))
	c.Fix = "free space on the filesystem of " + at + ", or set " + strings.TrimPrefix(name, "free ") + " on a larger one"
	return c
}

func gib(b uint64) string { return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30)) }

// checkVMM summarises the choice; it fails when the chosen VMM cannot run.
func (r *runner) checkVMM(usable bool) Check {
	c := Check{Name: "vmm", Detail: fmt.Sprintf("%s with %s (%s)", r.driver, r.accel, r.why)}
	if usable {
		c.Status = OK
		return c
	}
	c.Status = Fail
	switch {
	case !r.found[r.driver]:
		c.Detail += ": its binary is missing or broken"
		c.Fix = "see the " + r.driver + " check above"
	default:
		c.Detail += ": KVM is unusable (" + r.kvm.Reason() + ")"
		c.Fix = "set [vmm] driver = \"auto\" and accel = \"auto\" to fall back to QEMU with TCG"
	}
	return c
}
