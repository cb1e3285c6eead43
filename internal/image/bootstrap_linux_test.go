package image

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"banger/internal/testenv"
)

// testCacheDir is shared by test runs so the debootstrap (about a minute)
// happens once per machine: BANGER_TEST_CACHE, default
// /var/cache/banger-test.
func testCacheDir(t *testing.T) string {
	dir := os.Getenv("BANGER_TEST_CACHE")
	if dir == "" {
		dir = "/var/cache/banger-test"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("creating test cache: %v", err)
	}
	return dir
}

func requireBootstrapHost(t *testing.T) {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireBinary(t, "debootstrap", "debootstrap")
	testenv.RequireBinary(t, "mkfs.ext4", "e2fsprogs")
	testenv.RequireBinary(t, "debugfs", "e2fsprogs")
	_, err := HostMirror(DefaultSuite)
	testenv.Require(t, err == nil, "an apt source for "+DefaultSuite+" main on the host")
}

func debugfs(t *testing.T, img, req string) string {
	t.Helper()
	out, err := exec.Command("debugfs", "-R", req, img).CombinedOutput()
	if err != nil {
		t.Fatalf("debugfs -R %q: %v: %s", req, err, out)
	}
	return string(out)
}

func TestBootstrapReal(t *testing.T) {
	if testenv.Short() {
		t.Skip("debootstrap takes a minute or two; not with -short")
	}
	requireBootstrapHost(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cache := testCacheDir(t)
	dir := t.TempDir()
	agent := filepath.Join(dir, "agent")
	writeFile(t, agent, []byte("#!/bin/sh\nexit 0\n"), 0o755)
	spec := BootstrapSpec{
		SSHPublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBanger test@banger",
		AgentBinary:  agent,
		SizeBytes:    1 << 30,
	}

	var phases []string
	progress := func(p Progress) {
		if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
			phases = append(phases, p.Phase)
			t.Logf("%s: %s", p.Phase, p.Line)
		}
	}
	img := filepath.Join(dir, "root.ext4")
	if err := Bootstrap(ctx, spec, cache, img, progress); err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}
	if phases[len(phases)-1] != "done" {
		t.Errorf("phases %v do not end with done", phases)
	}
	if out, err := exec.Command("e2fsck", "-fn", img).CombinedOutput(); err != nil {
		t.Fatalf("e2fsck -fn: %v: %s", err, out)
	}
	if st := debugfs(t, img, "stat /root/.ssh/authorized_keys"); !strings.Contains(st, "Mode:  0600") {
		t.Errorf("authorized_keys not mode 0600:\n%s", st)
	}
	if keys := debugfs(t, img, "cat /root/.ssh/authorized_keys"); !strings.Contains(keys, spec.SSHPublicKey) {
		t.Errorf("authorized_keys = %q", keys)
	}
	if st := debugfs(t, img, "stat /usr/local/bin/banger-agent"); !strings.Contains(st, "Mode:  0755") {
		t.Errorf("agent not mode 0755:\n%s", st)
	}
	for _, p := range []string{"/usr/sbin/sshd", "/usr/lib/systemd/systemd", "/usr/sbin/resize2fs", "/usr/bin/ssh-keygen"} {
		if st := debugfs(t, img, "stat "+p); !strings.Contains(st, "Inode:") {
			t.Errorf("%s missing from the image:\n%s", p, st)
		}
	}
	if ls := debugfs(t, img, "ls /etc/ssh"); strings.Contains(ls, "ssh_host_") {
		t.Errorf("baked-in host keys in the image:\n%s", ls)
	}
	if label, err := exec.Command("e2label", img).Output(); err != nil || strings.TrimSpace(string(label)) != "banger-root" {
		t.Errorf("label %q (%v), want banger-root", label, err)
	}

	// A second build reuses the cached debootstrap.
	phases = nil
	start := time.Now()
	img2 := filepath.Join(dir, "root2.ext4")
	if err := Bootstrap(ctx, spec, cache, img2, progress); err != nil {
		t.Fatalf("second Bootstrap: %v", err)
	}
	if len(phases) == 0 || phases[0] != "cached" {
		t.Errorf("second build phases %v, want it to start from the cache", phases)
	}
	t.Logf("second build took %v", time.Since(start))
	if err := Bootstrap(ctx, spec, cache, img2, nil); !errors.Is(err, os.ErrExist) {
		t.Errorf("Bootstrap onto an existing image: %v, want os.ErrExist", err)
	}
}

// A debootstrap that fails (no archive answers on this loopback port)
// leaves no image, no temp file and nothing in the cache, and its error
// carries debootstrap's output.
func TestBootstrapFailureLeavesNothing(t *testing.T) {
	requireBootstrapHost(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cache, dir := t.TempDir(), t.TempDir()
	img := filepath.Join(dir, "root.ext4")
	spec := BootstrapSpec{Mirror: "http://127.0.0.1:9/debian", SSHPublicKey: "ssh-ed25519 AAAA x"}
	err := Bootstrap(ctx, spec, cache, img, nil)
	if err == nil {
		t.Fatal("Bootstrap from a dead mirror succeeded")
	}
	if !strings.Contains(err.Error(), "last output:") || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("error does not carry debootstrap's output: %v", err)
	}
	for _, p := range []string{img, img + ".tmp"} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s left behind (%v)", p, err)
		}
	}
	s, _ := spec.withDefaults()
	key := filepath.Join(cache, "rootfs", s.debootstrapKey())
	for _, p := range []string{key, key + ".tmp"} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s left in the cache (%v)", p, err)
		}
	}
	if ents, _ := filepath.Glob(filepath.Join(cache, "work-*")); len(ents) != 0 {
		t.Errorf("working copies left: %v", ents)
	}
}

// Cancelling ctx stops debootstrap promptly. The mirror is a loopback
// listener that accepts and never answers, so debootstrap hangs until then.
func TestBootstrapCancel(t *testing.T) {
	requireBootstrapHost(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan net.Conn, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			select {
			case conns <- c:
			default:
				c.Close()
			}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		close(conns)
		for c := range conns {
			c.Close()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	cache := t.TempDir()
	spec := BootstrapSpec{Mirror: "http://" + ln.Addr().String() + "/debian", SSHPublicKey: "ssh-ed25519 AAAA x"}
	start := time.Now()
	err = Bootstrap(ctx, spec, cache, filepath.Join(t.TempDir(), "img"), nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Bootstrap with a 3 s deadline: %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 45*time.Second {
		t.Errorf("Bootstrap took %v to stop", d)
	}
	if m, _ := mountsUnder(cache); len(m) != 0 {
		t.Errorf("mounts left under the cache: %v", m)
	}
	if ents, _ := os.ReadDir(filepath.Join(cache, "rootfs")); len(ents) > 1 { // only the lock file
		t.Errorf("cache holds %d entries after a cancelled build", len(ents))
	}
}
