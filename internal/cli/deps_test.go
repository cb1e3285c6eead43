package cli

import (
	"os/exec"
	"strings"
	"testing"
)

// The CLI talks to the daemon only through the API client; it must not
// pull in the daemon, the store, the drivers or the host network.
func TestCLIDoesNotImportDaemonSide(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "banger/internal/cli").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := []string{"daemon", "store", "hostnet", "vmm", "vm", "image", "disk", "doctor"}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps gave %d packages, too few to be real: %q", len(deps), out)
	}
	for _, dep := range deps {
		for _, f := range forbidden {
			if dep == "banger/internal/"+f || strings.HasPrefix(dep, "banger/internal/"+f+"/") {
				t.Errorf("banger/internal/cli depends on %s", dep)
			}
		}
	}
}
