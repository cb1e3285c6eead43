// Package e2e drives the real banger binaries end to end: a daemon inside a
// throwaway network namespace, real QEMU guests under TCG, the real store.
// Everything a test creates lives in that namespace and a temp state dir;
// the cache of slow inputs (debootstrap'ed rootfs) is $BANGER_TEST_CACHE.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"banger/internal/image"
	"banger/internal/nstest"
	"banger/internal/testenv"
)

var bangerBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "banger-e2e-bin")
	if err != nil {
		panic(err)
	}
	bangerBin = filepath.Join(dir, "banger")
	// The daemon finds banger-agent beside its own binary, as installed.
	for _, b := range [][]string{
		{"go", "build", "-o", bangerBin, "banger/cmd/banger"},
		{"go", "build", "-o", filepath.Join(dir, "banger-agent"), "banger/cmd/banger-agent"},
	} {
		build := exec.Command(b[0], b[1:]...)
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building", b[len(b)-1], err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is one banger installation: config, state dir, a daemon in a netns.
type env struct {
	t      testing.TB
	ns     *nstest.NS
	dir    string
	config string
	socket string
	daemon *exec.Cmd
	done   chan error
}

func newEnv(t testing.TB) *env {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireBinary(t, "qemu-system-x86_64", "qemu-system-x86")
	testenv.RequireBinary(t, "debootstrap", "debootstrap")
	testenv.RequireBinary(t, "ssh", "openssh-client")
	kernels, _ := filepath.Glob("/boot/vmlinuz-*")
	testenv.Require(t, len(kernels) > 0, "a kernel in /boot (apt-get install linux-image-cloud-amd64)")
	if testenv.Short() {
		t.Skip("boots real VMs; not in -short")
	}
	cache := os.Getenv("BANGER_TEST_CACHE")
	if cache == "" {
		cache = "/var/cache/banger-test"
	}
	// The daemon runs in a namespace with no route out; fetch the Debian
	// packages (once, cached by their inputs) from here beforehand.
	pctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	if err := image.PrepareCache(pctx, image.BootstrapSpec{}, cache, nil); err != nil {
		t.Fatalf("preparing the debootstrap cache: %v", err)
	}
	e := &env{t: t, ns: nstest.New(t), dir: t.TempDir()}
	// Unix socket paths are limited to 108 bytes: keep the state dir short.
	state, err := os.MkdirTemp("/tmp", "bge2e")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(state) })
	e.socket = filepath.Join(state, "banger.sock")
	e.config = filepath.Join(e.dir, "config.toml")
	cfg := fmt.Sprintf(`state_dir = %q
cache_dir = %q
socket = %q
log_level = "debug"
[network]
bridge = "bgtest0"
subnet = "172.30.99.0/24"
[vmm]
driver = "qemu"
accel = "tcg"
`, filepath.Join(state, "state"), cache, e.socket)
	if err := os.WriteFile(e.config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	e.startDaemon()
	t.Cleanup(e.cleanup)
	return e
}

func (e *env) startDaemon() {
	e.t.Helper()
	cmd := e.ns.Exec(context.Background(), bangerBin, "--config", e.config, "daemon")
	logf, err := os.OpenFile(filepath.Join(e.dir, "daemon.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		e.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.daemon, e.done = cmd, make(chan error, 1)
	go func() { e.done <- cmd.Wait(); logf.Close() }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := e.try("version"); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.t.Fatalf("daemon did not answer within 30s; log:\n%s", e.daemonLog())
}

// stopDaemon ends the daemon with SIGTERM (VMs keep running) or SIGKILL.
func (e *env) stopDaemon(sig os.Signal) {
	e.t.Helper()
	if e.daemon == nil {
		return
	}
	_ = e.daemon.Process.Signal(sig)
	select {
	case <-e.done:
	case <-time.After(30 * time.Second):
		_ = e.daemon.Process.Kill()
		<-e.done
		e.t.Errorf("daemon did not stop on %v", sig)
	}
	e.daemon = nil
}

func (e *env) daemonLog() string {
	b, _ := os.ReadFile(filepath.Join(e.dir, "daemon.log"))
	return string(b)
}

// cleanup removes every VM and host object through banger itself, then the
// daemon; the namespace (and anything left in it) goes with nstest.
func (e *env) cleanup() {
	if e.daemon != nil {
		if out, err := e.try("vm", "ls", "-o", "json"); err == nil {
			var vms []struct{ Name string }
			_ = json.Unmarshal([]byte(out), &vms)
			for _, v := range vms {
				_, _ = e.try("vm", "rm", "--force", v.Name)
			}
		}
		_, _ = e.try("system", "teardown")
		e.stopDaemon(os.Interrupt)
	}
	if e.t.Failed() {
		e.t.Logf("daemon log:\n%s", e.daemonLog())
	}
}

// try runs the CLI inside the namespace and returns stdout.
func (e *env) try(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := e.ns.Exec(ctx, bangerBin, append([]string{"--config", e.config}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("banger %s: %w\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String(), nil
}

func (e *env) run(args ...string) string {
	e.t.Helper()
	out, err := e.try(args...)
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

type vmView struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	State string `json:"state"`
	IP    string `json:"ip"`
	Tap   string `json:"tap"`
	VMM   string `json:"vmm"`
	Accel string `json:"accel"`
	PID   int    `json:"pid"`
}

func (e *env) show(name string) vmView {
	e.t.Helper()
	var v vmView
	if err := json.Unmarshal([]byte(e.run("vm", "show", name, "-o", "json")), &v); err != nil {
		e.t.Fatalf("decoding vm show: %v", err)
	}
	return v
}
