package hostnet

import (
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// goldenConfigs are the configurations whose rulesets are pinned in
// testdata/NAME.golden; the real-kernel test reads "default" back.
var goldenConfigs = map[string]Config{
	"default": {
		Bridge:    "banger0",
		Gateway:   netip.MustParsePrefix("172.30.0.1/24"),
		Table:     "banger",
		HostPorts: []uint16{53},
	},
	"noports": {
		Bridge:  "bgtest1",
		Gateway: netip.MustParsePrefix("10.99.0.254/16"),
		Table:   "bgtest",
	},
}

func goldenPath(name string) string { return filepath.Join("testdata", name+".golden") }

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := goldenPath(name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run with -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("ruleset differs from %s (run with -update if intended):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestRulesetGolden(t *testing.T) {
	for name, cfg := range goldenConfigs {
		t.Run(name, func(t *testing.T) {
			rs, err := buildRuleset(cfg)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, name, rs.String())
		})
	}
}

func TestRulesetDeterministic(t *testing.T) {
	cfg := goldenConfigs["default"]
	a, err := buildRuleset(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := buildRuleset(cfg)
	if a.String() != b.String() {
		t.Fatal("two builds of the same config differ")
	}
	// Each host port yields a tcp and a udp rule.
	if n := strings.Count(a.String(), "gateway service"); n != 2*len(cfg.HostPorts) {
		t.Fatalf("gateway service rules = %d, want %d", n, 2*len(cfg.HostPorts))
	}
}

func TestRulesetRejectsBadConfig(t *testing.T) {
	good := goldenConfigs["default"]
	for name, mut := range map[string]func(*Config){
		"no bridge":       func(c *Config) { c.Bridge = "" },
		"long bridge":     func(c *Config) { c.Bridge = "a-very-long-bridge" },
		"ipv6 gateway":    func(c *Config) { c.Gateway = netip.MustParsePrefix("fd00::1/64") },
		"network address": func(c *Config) { c.Gateway = netip.MustParsePrefix("172.30.0.0/24") },
		"no gateway":      func(c *Config) { c.Gateway = netip.Prefix{} },
		"no table":        func(c *Config) { c.Table = "" },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := good
			mut(&cfg)
			if _, err := buildRuleset(cfg); err == nil {
				t.Fatalf("buildRuleset(%+v) succeeded, want an error", cfg)
			}
		})
	}
}

func TestTapName(t *testing.T) {
	for _, id := range []string{"", "a", "0123456789", "0123456789abcdef0123"} {
		name := TapName(id)
		if len(name) > maxIfName || name[:2] != "bg" {
			t.Errorf("TapName(%q) = %q: want a \"bg\" name of at most %d characters", id, name, maxIfName)
		}
	}
	if a, b := TapName("0123456789abcXXX"), TapName("0123456789abcYYY"); a != b || a != "bg0123456789abc" {
		t.Errorf("TapName keeps the first 13 characters of the id: got %q and %q", a, b)
	}
}
