// Package testenv decides whether tests that need the real host (root, QEMU,
// network namespaces, debootstrap) run. Locally a missing prerequisite skips
// the test; in CI (CI=true) it fails it, so CI never passes by skipping.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run in CI.
func InCI() bool { return os.Getenv("CI") == "true" }

// Require skips (locally) or fails (in CI) the test when ok is false.
// what names the missing prerequisite and how to get it.
func Require(t testing.TB, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if InCI() {
		t.Fatalf("missing prerequisite in CI: %s", what)
	}
	t.Skipf("skipping: %s", what)
}

// RequireRoot requires euid 0 (network namespaces, taps, nftables).
func RequireRoot(t testing.TB) {
	t.Helper()
	Require(t, os.Geteuid() == 0, "must run as root")
}

// RequireBinary requires an executable on PATH and returns its path.
func RequireBinary(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	Require(t, err == nil, name+" not found (apt-get install "+pkg+")")
	return p
}

// Short reports whether slow tests (real VM boots, debootstrap) are to be
// left out: `go test -short` locally. CI never runs with -short.
func Short() bool { return testing.Short() && !InCI() }
