// Package nstest gives tests a throwaway network namespace, so code that
// changes links, addresses or nftables never touches the machine's own
// network namespace.
package nstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"banger/internal/testenv"
)

// runDir is where named network namespaces are bind-mounted, as iproute2
// expects them (so `ip netns exec NAME` finds ours).
const runDir = "/run/netns"

// NS is one named network namespace owned by a test. It is deleted when the
// test ends; every link in it (bridges, persistent taps) dies with it.
type NS struct {
	t    testing.TB
	name string
}

// New creates a fresh named network namespace ("bgtest-<random>") with its
// loopback up, and registers its deletion with t.Cleanup. It requires root
// (skips locally, fails in CI).
func New(t testing.TB) *NS {
	t.Helper()
	testenv.RequireRoot(t)
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("naming network namespace: %v", err)
	}
	ns := &NS{t: t, name: "bgtest-" + hex.EncodeToString(b[:])}
	if err := onThread(func() error { return create(ns.name) }); err != nil {
		t.Fatalf("creating network namespace %s: %v", ns.name, err)
	}
	t.Cleanup(func() {
		if err := netns.DeleteNamed(ns.name); err != nil {
			t.Errorf("deleting network namespace %s: %v", ns.name, err)
		}
	})
	if err := ns.Do(func() error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		return netlink.LinkSetUp(lo)
	}); err != nil {
		t.Fatalf("bringing up lo in %s: %v", ns.name, err)
	}
	return ns
}

// create makes and bind-mounts the namespace. netns.NewNamed switches the
// calling thread into it; onThread switches the thread back.
func create(name string) error {
	h, err := netns.NewNamed(name)
	if err != nil {
		return err
	}
	return h.Close()
}

// Name is the namespace's name, as `ip netns` lists it.
func (ns *NS) Name() string { return ns.name }

// Path is the namespace's bind mount, /run/netns/NAME.
func (ns *NS) Path() string { return filepath.Join(runDir, ns.name) }

// Do runs f on a locked OS thread switched into the namespace and returns
// f's error. f runs on another goroutine: it must not call t.FailNow (return
// an error instead), and goroutines it starts are NOT in the namespace. A
// panic in f is returned as an error. Do may be called any number of times.
func (ns *NS) Do(f func() error) error {
	return onThread(func() error {
		h, err := netns.GetFromPath(ns.Path())
		if err != nil {
			return fmt.Errorf("opening network namespace %s: %w", ns.name, err)
		}
		defer h.Close()
		if err := netns.Set(h); err != nil {
			return fmt.Errorf("entering network namespace %s: %w", ns.name, err)
		}
		return f()
	})
}

// Exec returns a command that runs name with args inside the namespace,
// through `ip netns exec` (iproute2), which also gives the command a /sys
// that shows the namespace's links. The command is not started.
func (ns *NS) Exec(ctx context.Context, name string, args ...string) *exec.Cmd {
	ip := testenv.RequireBinary(ns.t, "ip", "iproute2")
	return exec.CommandContext(ctx, ip, append([]string{"netns", "exec", ns.name, name}, args...)...)
}

// onThread runs f on a fresh goroutine locked to its OS thread, then puts
// the thread back into the network namespace it started in. If that fails,
// the goroutine exits still locked, so the Go runtime discards the thread
// instead of reusing it in the wrong namespace.
func onThread(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("getting the thread's network namespace: %w", err)
			return
		}
		defer orig.Close()
		ferr := protect(f)
		if err := netns.Set(orig); err != nil {
			errc <- fmt.Errorf("restoring the thread's network namespace: %w (after: %v)", err, ferr)
			return // still locked: the thread is dropped
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// protect turns a panic in f into an error, so the thread is still restored.
func protect(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	return f()
}
