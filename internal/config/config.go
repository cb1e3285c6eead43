// Package config loads banger's TOML configuration.
//
// Precedence, highest first: environment overrides (BANGER_SOCKET,
// BANGER_STATE_DIR), the config file, Default(). The file is the one given
// to Load, else $BANGER_CONFIG, else DefaultPath.
package config

import (
	"errors"
	"log/slog"
	"net/netip"
)

// DefaultPath is where the daemon and CLI look for the config file unless
// --config or BANGER_CONFIG says otherwise.
const DefaultPath = "/etc/banger/config.toml"

// Environment variables read by Load.
const (
	// EnvConfig names the config file when Load is given "". A file named
	// this way must exist.
	EnvConfig = "BANGER_CONFIG"
	// EnvSocket overrides `socket` (after the file is read).
	EnvSocket = "BANGER_SOCKET"
	// EnvStateDir overrides `state_dir` (after the file is read).
	EnvStateDir = "BANGER_STATE_DIR"
)

// Sentinel errors wrapped by Load and Validate; check with errors.Is.
var (
	// ErrUnknownKey: the file has a key banger does not know (often a typo).
	ErrUnknownKey = errors.New("unknown config key")
	// ErrInvalid: a key has a value banger cannot use.
	ErrInvalid = errors.New("invalid config value")
)

// Config is the whole configuration. Keys absent from the file keep their
// Default() value; a key present with an unusable value is an error.
type Config struct {
	StateDir string `toml:"state_dir"` // store, images, VM disks; default /var/lib/banger
	CacheDir string `toml:"cache_dir"` // cached build inputs; default /var/cache/banger
	Socket   string `toml:"socket"`    // daemon API socket; default /run/banger/banger.sock
	LogLevel string `toml:"log_level"` // debug|info|warn|error

	Network Network    `toml:"network"`
	VM      VMDefaults `toml:"vm"`
	VMM     VMM        `toml:"vmm"`
}

type Network struct {
	Bridge string `toml:"bridge"` // default "banger0"
	// Subnet is the guests' RFC 1918 IPv4 network, /16 to /29; the first
	// host address is the gateway on the bridge. Default 172.30.0.0/24.
	Subnet string `toml:"subnet"`
	// DNS is the IPv4 resolver given to guests. Default 1.1.1.1: guests
	// reach it through the host's NAT without banger running a resolver
	// (the host's own resolv.conf often names 127.0.0.53, which a guest
	// cannot use). Set it to the gateway address if you run a resolver
	// there, or to your network's resolver when public ones are blocked.
	DNS   string `toml:"dns"`
	Table string `toml:"nft_table"` // default "banger"
}

type VMDefaults struct {
	VCPUs     int    `toml:"vcpus"`      // 1..32; default 2
	MemoryMiB int    `toml:"memory_mib"` // 128..65536; default 1024
	DiskSize  string `toml:"disk_size"`  // ParseSize syntax, e.g. "8G"; default "8G"
}

type VMM struct {
	Driver      string `toml:"driver"`      // auto|firecracker|qemu
	Accel       string `toml:"accel"`       // auto|kvm|tcg (qemu)
	Firecracker string `toml:"firecracker"` // binary path or name on PATH
	Jailer      string `toml:"jailer"`
	QEMU        string `toml:"qemu"` // qemu-system-x86_64
}

// Values of VMM.Driver and VMM.Accel.
const (
	Auto        = "auto"
	Firecracker = "firecracker"
	QEMU        = "qemu"
	KVM         = "kvm"
	TCG         = "tcg"
)

// Default returns the built-in configuration (also in example.toml).
func Default() Config {
	return Config{
		StateDir: "/var/lib/banger",
		CacheDir: "/var/cache/banger",
		Socket:   "/run/banger/banger.sock",
		LogLevel: "info",
		Network: Network{
			Bridge: "banger0",
			Subnet: "172.30.0.0/24",
			DNS:    "1.1.1.1",
			Table:  "banger",
		},
		VM: VMDefaults{VCPUs: 2, MemoryMiB: 1024, DiskSize: "8G"},
		VMM: VMM{
			Driver:      Auto,
			Accel:       Auto,
			Firecracker: "firecracker",
			Jailer:      "jailer",
			QEMU:        "qemu-system-x86_64",
		},
	}
}

// Subnet is the parsed network.subnet. It is the zero Prefix (IsValid false)
// when the Config has not passed Validate.
func (c Config) Subnet() netip.Prefix {
	p, err := netip.ParsePrefix(c.Network.Subnet)
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}
	}
	return p.Masked()
}

// Gateway is the host's address on the bridge: the subnet's first host
// address with the subnet's prefix length (172.30.0.1/24 by default).
// Zero when the Config has not passed Validate.
func (c Config) Gateway() netip.Prefix {
	s := c.Subnet()
	if !s.IsValid() {
		return netip.Prefix{}
	}
	return netip.PrefixFrom(s.Addr().Next(), s.Bits())
}

// DiskBytes is vm.disk_size in bytes; 0 when it does not parse.
func (c Config) DiskBytes() int64 {
	n, err := ParseSize(c.VM.DiskSize)
	if err != nil {
		return 0
	}
	return n
}

// SlogLevel is log_level as a slog.Level (Info when it is not valid).
func (c Config) SlogLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return slog.LevelInfo
	}
	return l
}
