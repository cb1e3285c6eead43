package config

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestDefaultIsValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatalf("Default() does not validate: %v", err)
	}
}

func TestExampleEqualsDefault(t *testing.T) {
	got, err := Parse([]byte(Example))
	if err != nil {
		t.Fatalf("parsing example.toml: %v", err)
	}
	if !reflect.DeepEqual(got, Default()) {
		t.Fatalf("example.toml differs from Default():\n got %+v\nwant %+v", got, Default())
	}
}

// Every key of Config must be spelled out in example.toml: otherwise
// TestExampleEqualsDefault would pass for a key the example forgot.
func TestExampleNamesEveryKey(t *testing.T) {
	var keys []string
	var walk func(prefix string, typ reflect.Type)
	walk = func(prefix string, typ reflect.Type) {
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			k := f.Tag.Get("toml")
			if f.Type.Kind() == reflect.Struct {
				walk(prefix+k+".", f.Type)
				continue
			}
			keys = append(keys, prefix+k)
		}
	}
	walk("", reflect.TypeOf(Config{}))
	for _, k := range keys {
		leaf := k[strings.LastIndex(k, ".")+1:]
		if !strings.Contains(Example, "\n"+leaf+" = ") {
			t.Errorf("example.toml lacks key %s", k)
		}
	}
}

func TestAbsentKeysKeepDefaults(t *testing.T) {
	c, err := Parse([]byte("[vm]\nvcpus = 4\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.VM.VCPUs = 4
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got %+v, want %+v", c, want)
	}
}

func TestInvalidValuesNameTheirKey(t *testing.T) {
	cases := []struct{ key, toml string }{
		{"state_dir", `state_dir = "var/lib/banger"`},
		{"cache_dir", `cache_dir = ""`},
		{"socket", `socket = "banger.sock"`},
		{"log_level", `log_level = "verbose"`},
		{"network.bridge", "[network]\nbridge = \"much-too-long-bridge\""},
		{"network.bridge", "[network]\nbridge = \"br 0\""},
		{"network.bridge", "[network]\nbridge = \"\""},
		{"network.subnet", "[network]\nsubnet = \"172.30.0.0\""},
		{"network.subnet", "[network]\nsubnet = \"8.8.8.0/24\""},
		{"network.subnet", "[network]\nsubnet = \"10.0.0.0/8\""},
		{"network.subnet", "[network]\nsubnet = \"10.0.0.0/30\""},
		{"network.subnet", "[network]\nsubnet = \"172.30.0.1/24\""},
		{"network.subnet", "[network]\nsubnet = \"fd00::/64\""},
		{"network.dns", "[network]\ndns = \"one.one.one.one\""},
		{"network.dns", "[network]\ndns = \"2606:4700::1111\""},
		{"network.dns", "[network]\ndns = \"0.0.0.0\""},
		{"network.nft_table", "[network]\nnft_table = \"1banger\""},
		{"network.nft_table", "[network]\nnft_table = \"\""},
		{"vm.vcpus", "[vm]\nvcpus = 0"},
		{"vm.vcpus", "[vm]\nvcpus = 33"},
		{"vm.memory_mib", "[vm]\nmemory_mib = 64"},
		{"vm.memory_mib", "[vm]\nmemory_mib = 65537"},
		{"vm.disk_size", "[vm]\ndisk_size = \"8 gigs\""},
		{"vm.disk_size", "[vm]\ndisk_size = \"1K\""},
		{"vmm.driver", "[vmm]\ndriver = \"cloud-hypervisor\""},
		{"vmm.accel", "[vmm]\naccel = \"hvf\""},
		{"vmm.accel", "[vmm]\ndriver = \"firecracker\"\naccel = \"tcg\""},
		{"vmm.firecracker", "[vmm]\nfirecracker = \"bin/firecracker\""},
		{"vmm.jailer", "[vmm]\njailer = \"\""},
		{"vmm.qemu", "[vmm]\nqemu = \"./qemu\""},
	}
	for _, tc := range cases {
		t.Run(tc.key, func(t *testing.T) {
			_, err := Parse([]byte(tc.toml))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse(%q) = %v, want ErrInvalid", tc.toml, err)
			}
			if !strings.Contains(err.Error(), tc.key+" = ") {
				t.Fatalf("error %q does not name key %s", err, tc.key)
			}
		})
	}
}

func TestAllProblemsReportedAtOnce(t *testing.T) {
	_, err := Parse([]byte("log_level = \"loud\"\n[vm]\nvcpus = 0\n"))
	for _, key := range []string{"log_level", "vm.vcpus"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("error %v does not mention %s", err, key)
		}
	}
}

func TestUnknownKeys(t *testing.T) {
	cases := map[string]string{
		"top-level":     "stat_dir = \"/x\"",
		"network.brige": "[network]\nbrige = \"b0\"",
		"vmm.qemu_path": "[vmm]\nqemu_path = \"/usr/bin/qemu\"",
		"extra":         "[extra]\nfoo = 1",
	}
	for key, doc := range cases {
		t.Run(key, func(t *testing.T) {
			_, err := Parse([]byte(doc))
			if !errors.Is(err, ErrUnknownKey) {
				t.Fatalf("Parse(%q) = %v, want ErrUnknownKey", doc, err)
			}
			name := key
			if key == "top-level" {
				name = "stat_dir"
			}
			if !strings.Contains(err.Error(), name) {
				t.Fatalf("error %q does not name %s", err, name)
			}
		})
	}
}

func TestTOMLSyntaxErrorAndTypeMismatch(t *testing.T) {
	if _, err := Parse([]byte("state_dir = ")); err == nil {
		t.Error("a syntax error was accepted")
	}
	if _, err := Parse([]byte("[vm]\nvcpus = \"two\"")); err == nil || !strings.Contains(err.Error(), "vm.vcpus") {
		t.Errorf("type mismatch: error %v does not name vm.vcpus", err)
	}
}

func noEnv(string) string { return "" }

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadMissingDefaultPathGivesDefaults(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "absent.toml")
	c, err := load("", missing, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Fatalf("got %+v, want defaults", c)
	}
}

func TestLoadMissingExplicitPathFails(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "absent.toml")
	if _, err := load(missing, "/nonexistent/default.toml", noEnv); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("explicit path: err = %v, want ErrNotExist", err)
	}
	env := func(k string) string {
		if k == EnvConfig {
			return missing
		}
		return ""
	}
	if _, err := load("", "/nonexistent/default.toml", env); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("BANGER_CONFIG path: err = %v, want ErrNotExist", err)
	}
}

func TestLoadReadsFile(t *testing.T) {
	p := writeFile(t, "[network]\nsubnet = \"10.9.8.0/28\"\n")
	c, err := load(p, "/nonexistent", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Network.Subnet != "10.9.8.0/28" {
		t.Fatalf("subnet = %q", c.Network.Subnet)
	}
	if _, err := load(writeFile(t, "bogus = 1"), "/nonexistent", noEnv); err == nil || !strings.Contains(err.Error(), "config.toml") {
		t.Fatalf("error %v does not name the file", err)
	}
}

func TestEnvOverrides(t *testing.T) {
	file := writeFile(t, "socket = \"/from/file.sock\"\nstate_dir = \"/from/file\"\n")
	env := map[string]string{
		EnvConfig:   file,
		EnvSocket:   "/from/env.sock",
		EnvStateDir: "/from/env",
	}
	c, err := load("", "/nonexistent", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.Socket != "/from/env.sock" || c.StateDir != "/from/env" {
		t.Fatalf("env did not override the file: socket %q state_dir %q", c.Socket, c.StateDir)
	}

	env[EnvSocket] = "relative.sock"
	_, err = load("", "/nonexistent", func(k string) string { return env[k] })
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), EnvSocket) {
		t.Fatalf("bad override: err = %v, want ErrInvalid naming %s", err, EnvSocket)
	}
}

func TestLoadUsesProcessEnvironment(t *testing.T) {
	t.Setenv(EnvConfig, writeFile(t, "log_level = \"debug\"\n"))
	t.Setenv(EnvStateDir, "/srv/banger")
	t.Setenv(EnvSocket, "")
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.LogLevel != "debug" || c.StateDir != "/srv/banger" {
		t.Fatalf("got log_level %q state_dir %q", c.LogLevel, c.StateDir)
	}
}

func TestSubnetAndGateway(t *testing.T) {
	c := Default()
	if got, want := c.Subnet(), netip.MustParsePrefix("172.30.0.0/24"); got != want {
		t.Errorf("Subnet() = %v, want %v", got, want)
	}
	if got, want := c.Gateway(), netip.MustParsePrefix("172.30.0.1/24"); got != want {
		t.Errorf("Gateway() = %v, want %v", got, want)
	}
	c.Network.Subnet = "192.168.64.8/29"
	if got, want := c.Gateway(), netip.MustParsePrefix("192.168.64.9/29"); got != want {
		t.Errorf("Gateway() = %v, want %v", got, want)
	}
	c.Network.Subnet = "garbage"
	if c.Subnet().IsValid() || c.Gateway().IsValid() {
		t.Errorf("invalid subnet gave %v / %v", c.Subnet(), c.Gateway())
	}
}

func TestDiskBytesAndSlogLevel(t *testing.T) {
	c := Default()
	if got := c.DiskBytes(); got != 8<<30 {
		t.Errorf("DiskBytes() = %d", got)
	}
	c.LogLevel = "warn"
	if got := c.SlogLevel().String(); got != "WARN" {
		t.Errorf("SlogLevel() = %s", got)
	}
}
