package daemon_test

import (
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"banger/internal/daemon"
	"banger/internal/daemon/daemontest"
	"banger/internal/testenv"
)

func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "banger-sock-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func TestListenCreatesDirAndSocketMode(t *testing.T) {
	sock := filepath.Join(shortDir(t), "a", "b", "banger.sock")
	ln, err := daemon.Listen(sock, "")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o660 || fi.Mode().Type() != os.ModeSocket {
		t.Errorf("socket mode %v, want socket 0660", fi.Mode())
	}
	di, err := os.Stat(filepath.Dir(sock))
	if err != nil || di.Mode().Perm() != 0o755 {
		t.Errorf("socket dir mode %v (%v), want 0755", di.Mode(), err)
	}
}

func TestListenRemovesStaleSocket(t *testing.T) {
	sock := filepath.Join(shortDir(t), "banger.sock")
	// A socket file nobody listens on, as a crashed daemon leaves it.
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if _, err := os.Lstat(sock); err != nil {
		t.Fatalf("stale socket not left in place: %v", err)
	}
	ln2, err := daemon.Listen(sock, "")
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	ln2.Close()
}

func TestListenRefusesLiveDaemon(t *testing.T) {
	sock := daemontest.Start(t, daemon.Deps{})
	ln, err := daemon.Listen(sock, "")
	if err == nil {
		ln.Close()
		t.Fatal("second Listen on a live daemon's socket succeeded")
	}
	if !strings.Contains(err.Error(), "already serving") {
		t.Errorf("error %q does not say another daemon is serving", err)
	}
	// The live daemon must still answer.
	if status, _, _ := call(t, sock, "GET", "/v1/healthz", ""); status != 200 {
		t.Errorf("live daemon answers %d after a refused second start", status)
	}
}

func TestListenRefusesNonSocket(t *testing.T) {
	path := filepath.Join(shortDir(t), "banger.sock")
	if err := os.WriteFile(path, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := daemon.Listen(path, "")
	if err == nil {
		ln.Close()
		t.Fatal("Listen replaced a regular file")
	}
	if b, _ := os.ReadFile(path); string(b) != "precious" {
		t.Error("Listen touched a regular file in the socket's place")
	}
	if !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("error %q does not say the file is not a socket", err)
	}
}

func TestListenGroup(t *testing.T) {
	sock := filepath.Join(shortDir(t), "banger.sock")
	ln, err := daemon.Listen(sock, "no-such-group-banger-test")
	if err != nil {
		t.Fatalf("Listen with a missing group must fall back to the daemon's group, got %v", err)
	}
	ln.Close()

	testenv.RequireRoot(t) // chown to a group root is not in
	g, err := user.LookupGroupId("65534")
	testenv.Require(t, err == nil, "group 65534 (nogroup) in /etc/group")
	ln, err = daemon.Listen(sock, g.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if gid := fi.Sys().(*syscall.Stat_t).Gid; gid != 65534 {
		t.Errorf("socket group %d, want 65534 (%s)", gid, g.Name)
	}
}
