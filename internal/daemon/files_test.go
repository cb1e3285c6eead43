package daemon

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRemoveOwnedFiles(t *testing.T) {
	state := t.TempDir()
	outside := t.TempDir()
	mk := func(p string) string {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	kernel := mk(filepath.Join(state, "kernels", "k1", "vmlinuz"))
	vmlinux := mk(filepath.Join(state, "kernels", "k1", "vmlinux"))
	modules := filepath.Join(state, "kernels", "k1", "modules")
	mk(filepath.Join(modules, "kernel", "a.ko"))
	shared := mk(filepath.Join(state, "images", "shared.ext4"))
	boot := mk(filepath.Join(outside, "vmlinuz-6.1"))
	sneaky := filepath.Join(state, "..", filepath.Base(outside), "vmlinuz-6.1")

	err := removeOwnedFiles(state, []string{kernel, vmlinux, modules, shared, boot, sneaky, "", "relative/path",
		filepath.Join(state, "kernels", "k1", "gone")}, map[string]bool{shared: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{kernel, vmlinux, modules, filepath.Join(state, "kernels", "k1")} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s still exists (%v)", p, err)
		}
	}
	for _, p := range []string{shared, boot, state, filepath.Join(state, "kernels")} {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
}

func TestUnder(t *testing.T) {
	cases := map[string]bool{
		"/var/lib/banger/images/a": true,
		"/var/lib/banger":          false,
		"/var/lib/banger/../x":     false,
		"/var/lib/bangerx/a":       false,
		"images/a":                 false,
		"/var/lib/banger/./a/../b": true,
	}
	for p, want := range cases {
		if got := under("/var/lib/banger", p); got != want {
			t.Errorf("under(%q) = %v, want %v", p, got, want)
		}
	}
}
