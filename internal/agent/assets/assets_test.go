package assets

import (
	"strings"
	"testing"
)

func TestUnitKeepsSessionsOnRestart(t *testing.T) {
	unit := string(Unit)
	for _, want := range []string{"Restart=always", "KillMode=process", "ExecStart=" + AgentBinaryPath} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q", want)
		}
	}
}

func TestModulesLoad(t *testing.T) {
	var mods []string
	for _, l := range strings.Split(string(ModulesLoad), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			mods = append(mods, l)
		}
	}
	if strings.Join(mods, ",") != "virtio_console,vsock,vmw_vsock_virtio_transport" {
		t.Fatalf("modules = %v", mods)
	}
	for _, f := range Files() {
		if len(f.Content) == 0 || f.Mode != 0o644 {
			t.Errorf("%s: %d bytes mode %o", f.Path, len(f.Content), f.Mode)
		}
	}
}
