package guest

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"banger/internal/agent/proto"
)

func TestLookPathUsesGivenPath(t *testing.T) {
	dir := t.TempDir()
	tool := filepath.Join(dir, "mytool")
	os.WriteFile(tool, []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "notexec"), []byte(""), 0o644)
	if p, err := lookPath("mytool", "/nonexistent:"+dir, "/"); err != nil || p != tool {
		t.Fatalf("lookPath = %q %v", p, err)
	}
	if _, err := lookPath("mytool", "/usr/bin", "/"); err == nil {
		t.Fatal("found a tool outside the given PATH")
	}
	if _, err := lookPath("notexec", dir, "/"); err == nil {
		t.Fatal("accepted a non-executable file")
	}
	if p, err := lookPath("./mytool", "", dir); err != nil || p != tool {
		t.Fatalf("relative path: %q %v", p, err)
	}
}

func TestResolveSpecPreflight(t *testing.T) {
	_, err := resolveSpec(proto.ExecRequest{Argv: []string{"sh"}, Cwd: "/nonexistent"}, "/")
	if !errors.Is(err, proto.ErrPreflight) {
		t.Fatalf("missing cwd: %v", err)
	}
	sp, err := resolveSpec(proto.ExecRequest{Argv: []string{"sh"}, Env: []string{"A=1", "A=2"}}, "/")
	if err != nil || sp.Cwd != "/" || envValue(sp.Env, "A") != "2" || !filepath.IsAbs(sp.Path) {
		t.Fatalf("%+v %v", sp, err)
	}
}

func TestMergeEnv(t *testing.T) {
	got := mergeEnv([]string{"A=1", "B=2"}, []string{"B=3", "C=4"})
	if !slices.Equal(got, []string{"A=1", "B=3", "C=4"}) {
		t.Fatalf("mergeEnv = %v", got)
	}
}

func TestParseSignal(t *testing.T) {
	for _, name := range []string{"TERM", "SIGTERM", "sigterm", "15"} {
		if sig, err := parseSignal(name); err != nil || sig != syscall.SIGTERM {
			t.Errorf("%s: %v %v", name, sig, err)
		}
	}
	if _, err := parseSignal("NOPE"); !errors.Is(err, proto.ErrInvalid) {
		t.Errorf("unknown signal: %v", err)
	}
	if signalName(syscall.SIGKILL) != "KILL" {
		t.Errorf("signalName(KILL) = %s", signalName(syscall.SIGKILL))
	}
}

func TestProcStart(t *testing.T) {
	a, ok := procStart(os.Getpid())
	b, ok2 := procStart(os.Getpid())
	if !ok || !ok2 || a != b || a == 0 {
		t.Fatalf("procStart(self) = %d %v, %d %v", a, ok, b, ok2)
	}
	if _, ok := procStart(1 << 30); ok {
		t.Fatal("procStart of a pid that cannot exist")
	}
}
