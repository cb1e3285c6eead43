package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"banger/internal/testenv"
)

// buildBanger builds this command into dir.
func buildBanger(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "banger")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// The real binary: `banger daemon` starts from a config file, tells
// systemd it is ready, serves the CLI, refuses a second daemon, and stops
// cleanly on SIGTERM.
func TestDaemonCommand(t *testing.T) {
	dir, err := os.MkdirTemp("", "banger-cmd-") // short: sun_path limit
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := buildBanger(t, dir)
	sock := filepath.Join(dir, "run", "banger.sock")
	cfg := filepath.Join(dir, "config.toml")
	conf := fmt.Sprintf("state_dir = %q\ncache_dir = %q\nsocket = %q\n", filepath.Join(dir, "state"), filepath.Join(dir, "cache"), sock)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}

	notify, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "notify"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer notify.Close()

	var stderr bytes.Buffer
	d := exec.Command(bin, "daemon", "--config", cfg)
	d.Env = append(os.Environ(), "NOTIFY_SOCKET="+filepath.Join(dir, "notify"), "BANGER_SOCKET=", "BANGER_STATE_DIR=")
	d.Stderr = &stderr
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- d.Wait() }()
	t.Cleanup(func() {
		d.Process.Kill()
		<-exited
	})

	notify.SetReadDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, 256)
	n, err := notify.Read(buf)
	if err != nil || string(buf[:n]) != "READY=1" {
		t.Fatalf("sd_notify: got %q, %v (daemon stderr: %s)", buf[:n], err, stderr.String())
	}

	cli := func(args ...string) (int, string, string) {
		c := exec.Command(bin, append([]string{"--config", cfg}, args...)...)
		c.Env = append(os.Environ(), "BANGER_SOCKET=", "BANGER_CONFIG=", "BANGER_STATE_DIR=")
		var o, e bytes.Buffer
		c.Stdout, c.Stderr = &o, &e
		err := c.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return c.ProcessState.ExitCode(), o.String(), e.String()
	}
	if code, out, errs := cli("vm", "ls", "-o", "json"); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Fatalf("vm ls = %d %q %q", code, out, errs)
	}
	if code, _, errs := cli("vm", "show", "nope"); code != 1 || !strings.Contains(errs, "banger: ") || !strings.Contains(errs, "hint: ") {
		t.Errorf("vm show nope = %d %q", code, errs)
	}
	if code, _, errs := cli("daemon"); code != 1 || !strings.Contains(errs, "already serving") {
		t.Errorf("second daemon = %d %q, want 1 and \"already serving\"", code, errs)
	}
	if code, _, errs := cli("vm", "ls"); code != 0 {
		t.Errorf("first daemon stopped answering after a refused second one: %d %q", code, errs)
	}

	t.Run("unprivileged user", func(t *testing.T) {
		testenv.RequireRoot(t)
		if err := os.Chmod(dir, 0o755); err != nil { // nobody may reach the binary and socket dir
			t.Fatal(err)
		}
		asNobody := func() (int, string) {
			c := exec.Command(bin, "--config", cfg, "vm", "ls")
			c.Env = []string{"PATH=/usr/bin:/bin"}
			c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
			var e bytes.Buffer
			c.Stderr = &e
			c.Run()
			return c.ProcessState.ExitCode(), e.String()
		}
		code, errs := asNobody()
		if code != 1 || !strings.Contains(errs, "permission denied on the banger daemon socket") ||
			!strings.Contains(errs, "hint: run banger with sudo, or join the `banger` group") {
			t.Errorf("nobody through the 0660 socket: %d %q", code, errs)
		}
		if err := os.Chmod(sock, 0o666); err != nil {
			t.Fatal(err)
		}
		code, errs = asNobody()
		if code != 1 || !strings.Contains(errs, "uid 65534 is neither root nor in group") || !strings.Contains(errs, "hint: ") {
			t.Errorf("nobody through a 0666 socket: %d %q", code, errs)
		}
	})

	if err := d.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err // for the cleanup
		if err != nil {
			t.Fatalf("daemon exit after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("daemon did not stop within 15s of SIGTERM")
	}
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left after shutdown: %v", err)
	}
	log, err := os.ReadFile(filepath.Join(dir, "state", "banger.log"))
	if err != nil || !bytes.Contains(log, []byte(`"msg":"serving API"`)) || !bytes.Contains(log, []byte(`"msg":"daemon stopped"`)) {
		t.Errorf("state log %q (%v): want JSON start and stop lines", log, err)
	}
	if !strings.Contains(stderr.String(), "serving API") {
		t.Errorf("stderr log %q: want the start line", stderr.String())
	}
	if code, _, errs := cli("vm", "ls"); code != 1 || !strings.Contains(errs, "not running") {
		t.Errorf("vm ls after stop = %d %q", code, errs)
	}
}
