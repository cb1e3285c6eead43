// Package config loads banger's TOML configuration.
package config

// DefaultPath is where the daemon and CLI look for the config file unless
// --config or BANGER_CONFIG says otherwise.
const DefaultPath = "/etc/banger/config.toml"

// Config is the whole configuration. Zero values are replaced by Default().
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
	Bridge string `toml:"bridge"`    // default "banger0"
	Subnet string `toml:"subnet"`    // guest /24; default 172.30.0.0/24 (.1 is the gateway)
	DNS    string `toml:"dns"`       // DNS server given to guests; default the gateway... see Default
	Table  string `toml:"nft_table"` // default "banger"
}

type VMDefaults struct {
	VCPUs     int    `toml:"vcpus"`      // default 2
	MemoryMiB int    `toml:"memory_mib"` // default 1024
	DiskSize  string `toml:"disk_size"`  // e.g. "8G"; default "8G"
}

type VMM struct {
	Driver      string `toml:"driver"`      // auto|firecracker|qemu
	Accel       string `toml:"accel"`       // auto|kvm|tcg (qemu)
	Firecracker string `toml:"firecracker"` // binary path or name on PATH
	Jailer      string `toml:"jailer"`
	QEMU        string `toml:"qemu"` // qemu-system-x86_64
}
