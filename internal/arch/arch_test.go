// Package arch holds the test that keeps the package layering of
// docs/architecture.md true: each package must not depend (even
// indirectly) on what the table forbids it.
package arch

import (
	"os/exec"
	"strings"
	"testing"
)

// rules: package -> forbidden dependencies (banger packages by path below
// banger/internal/, or module paths).
var rules = map[string][]string{
	"api":                 {"banger/internal/"},
	"client":              {"daemon", "store", "vm", "vmm", "hostnet", "image", "disk"},
	"vm":                  {"modernc.org/sqlite", "github.com/vishvananda/netlink", "github.com/google/nftables", "vmm/qemu", "vmm/firecracker", "store", "hostnet", "daemon"},
	"store":               {"vmm", "hostnet", "vm", "image", "daemon"},
	"vmm":                 {"store", "hostnet", "vm", "daemon"},
	"vmm/qemu":            {"store", "hostnet", "vm", "daemon"},
	"vmm/firecracker":     {"store", "hostnet", "vm", "daemon"},
	"hostnet":             {"store", "vmm", "vm", "daemon"},
	"image":               {"store", "vm", "vmm", "daemon"},
	"agent/guest":         {"store", "vm", "vmm", "hostnet", "daemon", "client", "cli", "image", "modernc.org/sqlite"},
	"../cmd/banger-agent": {"store", "vm", "vmm", "hostnet", "daemon", "client", "cli", "image", "modernc.org/sqlite"},
}

func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
	}
	d := strings.Fields(string(out))
	if len(d) < 5 {
		t.Fatalf("go list -deps %s gave only %q", pkg, d)
	}
	return d
}

func TestLayering(t *testing.T) {
	for pkg, forbidden := range rules {
		path := "banger/internal/" + pkg
		if strings.HasPrefix(pkg, "../") {
			path = "banger/" + strings.TrimPrefix(pkg, "../")
		}
		for _, dep := range deps(t, path) {
			if dep == path {
				continue
			}
			for _, f := range forbidden {
				full := f
				if !strings.Contains(f, ".") && !strings.Contains(f, "banger/") {
					full = "banger/internal/" + f
				}
				if dep == full || strings.HasPrefix(dep, strings.TrimSuffix(full, "/")+"/") {
					t.Errorf("%s depends on %s, which it must not (docs/architecture.md)", path, dep)
				}
			}
		}
	}
}

// The store runs no external programs (sqlite itself may, transitively).
func TestStoreRunsNoPrograms(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{join .Imports " "}}`, "banger/internal/store").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, imp := range strings.Fields(string(out)) {
		if imp == "os/exec" {
			t.Error("banger/internal/store imports os/exec")
		}
	}
}
