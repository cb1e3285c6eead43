package daemon_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"banger/internal/daemon"
	"banger/internal/daemon/daemontest"
	"banger/internal/testenv"
)

// helperEnv makes the test binary act as an API client (see TestMain).
const helperEnv = "BANGER_DAEMON_TEST_CLIENT_SOCKET"

func TestMain(m *testing.M) {
	if sock := os.Getenv(helperEnv); sock != "" {
		os.Exit(helperClient(sock))
	}
	os.Exit(m.Run())
}

// helperClient GETs /v1/vms on sock and prints "status body".
func helperClient(sock string) int {
	hc := &http.Client{Transport: &http.Transport{Dial: func(_, _ string) (net.Conn, error) {
		return net.Dial("unix", sock)
	}}}
	resp, err := hc.Get("http://banger/v1/vms")
	if err != nil {
		fmt.Printf("error %v", err)
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	fmt.Printf("%d %s", resp.StatusCode, b)
	return 0
}

// runAsNobody runs the test binary as uid/gid 65534 in client mode.
func runAsNobody(t *testing.T, dir, sock string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "client")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = []string{helperEnv + "=" + sock}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("client as nobody: %v\n%s", err, out)
	}
	return string(out)
}

// An unprivileged user is refused twice over: by the socket's mode, and
// (if the mode is loosened) by the peer-credential check.
func TestRefusesUnprivilegedPeer(t *testing.T) {
	testenv.RequireRoot(t)
	dir := shortDir(t)
	if err := os.Chmod(dir, 0o755); err != nil { // let nobody reach the socket
		t.Fatal(err)
	}
	sock := daemontest.StartAt(t, filepath.Join(dir, "banger.sock"), "", daemon.Deps{})

	out := runAsNobody(t, dir, sock)
	if !strings.Contains(out, "permission denied") {
		t.Errorf("nobody through a 0660 root socket: %q, want a permission error from connect", out)
	}

	if err := os.Chmod(sock, 0o666); err != nil {
		t.Fatal(err)
	}
	out = runAsNobody(t, dir, sock)
	if !strings.HasPrefix(out, "403 ") || !strings.Contains(out, "uid 65534 is neither root nor in group") ||
		!strings.Contains(out, "usermod -aG") {
		t.Errorf("nobody through a 0666 socket: %q, want 403 naming the uid, the group and the fix", out)
	}

	// Root itself still gets in.
	if status, _, b := call(t, sock, "GET", "/v1/vms", ""); status != 200 {
		t.Errorf("root refused: %d %s", status, b)
	}
}
