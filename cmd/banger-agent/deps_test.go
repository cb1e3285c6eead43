package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoHostPackages keeps the guest binary free of host-side banger
// packages (and of cgo: it must build as a static binary).
func TestNoHostPackages(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", ".")
	cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	allowed := []string{"banger/cmd/banger-agent", "banger/internal/agent/guest", "banger/internal/agent/proto"}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "banger/") && !contains(allowed, dep) {
			t.Errorf("banger-agent imports %s", dep)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
