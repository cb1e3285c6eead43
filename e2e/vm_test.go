package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"

	"banger/internal/store"
)

// TestVMLifecycle is the end-to-end path: bootstrap (cached), kernel
// import, two VMs created concurrently, SSH into each, guest isolation,
// daemon restart with re-adoption, graceful stop and kill, rm, and nothing
// left behind.
func TestVMLifecycle(t *testing.T) {
	e := newEnv(t)
	e.run("kernel", "import", "--name", "k")
	e.run("image", "bootstrap", "--name", "base", "--kernel", "k")

	names := []string{"alpha", "beta"}
	var wg sync.WaitGroup
	errs := make([]error, len(names))
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.try("vm", "create", n, "--image", "base", "--cpus", "1", "--memory", "512")
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	vms := map[string]vmView{}
	for _, n := range names {
		v := e.show(n)
		if v.State != "running" || v.VMM != "qemu" || v.Accel != "tcg" || v.IP == "" || v.PID == 0 {
			t.Fatalf("vm %s after create: %+v", n, v)
		}
		vms[n] = v
		if out := e.run("vm", "ssh", n, "--", "hostname"); strings.TrimSpace(out) != n {
			t.Fatalf("ssh %s hostname = %q", n, out)
		}
	}
	if vms["alpha"].IP == vms["beta"].IP {
		t.Fatalf("two VMs share %s", vms["alpha"].IP)
	}

	// A duplicate name is refused and disturbs nothing.
	if _, err := e.try("vm", "create", "alpha", "--image", "base"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("duplicate create: %v", err)
	}
	if v := e.show("alpha"); v.State != "running" || v.PID != vms["alpha"].PID {
		t.Fatalf("duplicate create disturbed alpha: %+v", v)
	}

	// Exit codes propagate through vm ssh.
	if _, err := e.try("vm", "ssh", "alpha", "--", "exit 7"); err == nil || !strings.Contains(err.Error(), "exit status 7") {
		t.Fatalf("ssh exit code not propagated: %v", err)
	}

	// Guests must not reach each other (isolated bridge ports), in both
	// directions, while the gateway answers.
	for a, b := range map[string]string{"alpha": "beta", "beta": "alpha"} {
		probe := "timeout 5 bash -c '</dev/tcp/" + vms[b].IP + "/22' && echo REACHED || echo BLOCKED"
		if out := e.run("vm", "ssh", a, "--", probe); !strings.Contains(out, "BLOCKED") {
			t.Fatalf("%s reached %s: %q", a, b, out)
		}
	}

	// Nor the host: a service listening on the gateway address (the only
	// host address a guest has a route to) is not reachable from guests.
	var ln net.Listener
	if err := e.ns.Do(func() (err error) {
		ln, err = net.Listen("tcp", "172.30.99.1:9999")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	probe := "timeout 5 bash -c '</dev/tcp/172.30.99.1/9999' && echo REACHED || echo BLOCKED"
	if out := e.run("vm", "ssh", "alpha", "--", probe); !strings.Contains(out, "BLOCKED") {
		t.Fatalf("a guest reached a host service on the gateway: %q", out)
	}

	// A new daemon re-adopts the running VMs: same process, still reachable.
	e.stopDaemon(syscall.SIGKILL)
	e.startDaemon()
	for _, n := range names {
		v := e.show(n)
		if v.State != "running" || v.PID != vms[n].PID {
			t.Fatalf("vm %s not re-adopted: before %+v after %+v", n, vms[n], v)
		}
	}
	e.run("vm", "ssh", "alpha", "--", "true")

	e.run("vm", "stop", "alpha")
	e.run("vm", "kill", "beta")
	for _, n := range names {
		if v := e.show(n); v.State != "stopped" {
			t.Fatalf("vm %s after stop/kill: %+v", n, v)
		}
		if alive(vms[n].PID) {
			t.Fatalf("VMM process %d of %s still alive", vms[n].PID, n)
		}
	}
	if !strings.Contains(e.run("vm", "logs", "alpha"), "Linux version") {
		t.Error("vm logs does not show the serial console")
	}

	// Restart one stopped VM to prove stop kept its disk usable, then rm all.
	e.run("vm", "start", "alpha")
	e.run("vm", "ssh", "alpha", "--", "true")
	e.run("vm", "rm", "--force", "alpha")
	e.run("vm", "rm", "beta")
	e.run("system", "teardown")
	e.assertNothingLeft(t, vms)
}

func (e *env) assertNothingLeft(t *testing.T, vms map[string]vmView) {
	t.Helper()
	for n, v := range vms {
		if alive(v.PID) {
			t.Errorf("process of %s (%d) left", n, v.PID)
		}
	}
	err := e.ns.Do(func() error {
		links, err := netlink.LinkList()
		if err != nil {
			return err
		}
		for _, l := range links {
			if l.Attrs().Name != "lo" {
				t.Errorf("link %s left in the namespace", l.Attrs().Name)
			}
		}
		c, err := nftables.New()
		if err != nil {
			return err
		}
		tables, err := c.ListTables()
		if err != nil {
			return err
		}
		for _, tb := range tables {
			t.Errorf("nftables table %s left", tb.Name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var state string
	for _, l := range strings.Split(string(mustRead(t, e.config)), "\n") {
		if strings.HasPrefix(l, "state_dir") {
			state = strings.Trim(strings.TrimSpace(strings.SplitN(l, "=", 2)[1]), `"`)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(state, "vms")); len(ents) != 0 {
		t.Errorf("VM dirs (disks, sockets) left: %v", ents)
	}
	e.stopDaemon(os.Interrupt)
	st, err := store.Open(context.Background(), filepath.Join(state, "banger.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if l, _ := st.ListLeases(context.Background()); len(l) != 0 {
		t.Errorf("leases left: %v", l)
	}
	if o, _ := st.ListHostObjects(context.Background()); len(o) != 0 {
		t.Errorf("host objects still recorded: %v", o)
	}
}

func mustRead(t *testing.T, p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// alive reports whether pid is a process that has not exited. A VMM whose
// daemon was killed is reparented to the machine's init, which may leave it
// a zombie for a while: that counts as gone.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && len(s) > i+2 && s[i+2] != 'Z' && s[i+2] != 'X'
}
