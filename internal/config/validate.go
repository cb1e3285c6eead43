package config

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
)

// Limits enforced by Validate.
const (
	MinVCPUs      = 1
	MaxVCPUs      = 32
	MinMemoryMiB  = 128
	MaxMemoryMiB  = 65536
	MinSubnetBits = 16 // a /16 is already 65534 guests
	MaxSubnetBits = 29 // a /29 leaves the gateway and 5 guests
	maxIfNameLen  = 15 // IFNAMSIZ - 1
	maxTableLen   = 64
)

var (
	ifNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	tableRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)
)

// Validate checks every key and returns all problems at once, each naming
// its key (e.g. "network.subnet: ..."), each wrapping ErrInvalid.
func (c Config) Validate() error {
	errs := []error{
		absPath("state_dir", c.StateDir),
		absPath("cache_dir", c.CacheDir),
		absPath("socket", c.Socket),
		oneOf("log_level", c.LogLevel, "debug", "info", "warn", "error"),
		validBridge(c.Network.Bridge),
		validSubnet(c.Network.Subnet),
		validDNS(c.Network.DNS),
		validTable(c.Network.Table),
		inRange("vm.vcpus", c.VM.VCPUs, MinVCPUs, MaxVCPUs),
		inRange("vm.memory_mib", c.VM.MemoryMiB, MinMemoryMiB, MaxMemoryMiB),
		validDiskSize(c.VM.DiskSize),
		oneOf("vmm.driver", c.VMM.Driver, Auto, Firecracker, QEMU),
		oneOf("vmm.accel", c.VMM.Accel, Auto, KVM, TCG),
		binary("vmm.firecracker", c.VMM.Firecracker),
		binary("vmm.jailer", c.VMM.Jailer),
		binary("vmm.qemu", c.VMM.QEMU),
	}
	if c.VMM.Driver == Firecracker && c.VMM.Accel == TCG {
		errs = append(errs, invalid("vmm.accel", c.VMM.Accel, "firecracker only runs with KVM; use accel = \"auto\" or driver = \"qemu\""))
	}
	return errors.Join(errs...)
}

func invalid(key, value, why string) error {
	return fmt.Errorf("%s = %q: %w: %s", key, value, ErrInvalid, why)
}

func absPath(key, p string) error {
	if !filepath.IsAbs(p) {
		return invalid(key, p, "must be an absolute path")
	}
	return nil
}

func oneOf(key, v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return invalid(key, v, "must be one of "+strings.Join(allowed, ", "))
}

func inRange(key string, v, lo, hi int) error {
	if v < lo || v > hi {
		return fmt.Errorf("%s = %d: %w: must be between %d and %d", key, v, ErrInvalid, lo, hi)
	}
	return nil
}

func validBridge(name string) error {
	if len(name) == 0 || len(name) > maxIfNameLen || !ifNameRE.MatchString(name) {
		return invalid("network.bridge", name, fmt.Sprintf("must be 1 to %d characters of A-Z a-z 0-9 _ -", maxIfNameLen))
	}
	return nil
}

func validSubnet(s string) error {
	const key = "network.subnet"
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return invalid(key, s, "not a CIDR prefix like 172.30.0.0/24")
	}
	switch {
	case !p.Addr().Is4():
		return invalid(key, s, "must be IPv4")
	case p.Masked() != p:
		return invalid(key, s, "host bits set; did you mean "+p.Masked().String()+"?")
	case p.Bits() < MinSubnetBits || p.Bits() > MaxSubnetBits:
		return invalid(key, s, fmt.Sprintf("prefix length must be /%d to /%d", MinSubnetBits, MaxSubnetBits))
	case !p.Addr().IsPrivate():
		// With /16 or longer, a private first address means the whole
		// prefix lies inside 10/8, 172.16/12 or 192.168/16.
		return invalid(key, s, "must be inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16 (RFC 1918)")
	}
	return nil
}

func validDNS(s string) error {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() || a.IsUnspecified() {
		return invalid("network.dns", s, "must be an IPv4 address (guests have IPv4 only)")
	}
	return nil
}

func validTable(s string) error {
	if len(s) > maxTableLen || !tableRE.MatchString(s) {
		return invalid("network.nft_table", s, fmt.Sprintf("must be 1 to %d characters of A-Z a-z 0-9 _ -, not starting with a digit or -", maxTableLen))
	}
	return nil
}

func validDiskSize(s string) error {
	n, err := ParseSize(s)
	if err != nil {
		return invalid("vm.disk_size", s, "want bytes or a size like 512M, 8G, 1T")
	}
	if n < 1<<20 {
		return invalid("vm.disk_size", s, "must be at least 1M")
	}
	return nil
}

func binary(key, s string) error {
	if s == "" || (strings.Contains(s, "/") && !filepath.IsAbs(s)) {
		return invalid(key, s, "must be a command name on PATH or an absolute path")
	}
	return nil
}
