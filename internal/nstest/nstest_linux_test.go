package nstest

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

func currentNS(t *testing.T) string {
	t.Helper()
	var id string
	// onThread gives a locked thread; its namespace is the process's.
	if err := onThread(func() error {
		h, err := netns.Get()
		if err != nil {
			return err
		}
		defer h.Close()
		id = h.UniqueId()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestDoRunsInsideAndRestores(t *testing.T) {
	ns := New(t)
	host := currentNS(t)
	if _, err := os.Stat(ns.Path()); err != nil {
		t.Fatalf("namespace not mounted: %v", err)
	}
	var inside string
	err := ns.Do(func() error {
		h, err := netns.Get()
		if err != nil {
			return err
		}
		defer h.Close()
		inside = h.UniqueId()
		if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "bgdummy0"}}); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if inside == host {
		t.Fatalf("Do ran in the host namespace %s", host)
	}
	if got := currentNS(t); got != host {
		t.Fatalf("namespace after Do = %s, want %s", got, host)
	}
	// The link exists inside, not outside.
	if err := ns.Do(func() error { _, err := netlink.LinkByName("bgdummy0"); return err }); err != nil {
		t.Fatalf("test link not found inside: %v", err)
	}
	if err := onThread(func() error { _, err := netlink.LinkByName("bgdummy0"); return err }); err == nil {
		t.Fatal("test link leaked into the host namespace")
	}
}

func TestDoReturnsErrorsAndPanics(t *testing.T) {
	ns := New(t)
	want := errors.New("boom")
	if err := ns.Do(func() error { return want }); !errors.Is(err, want) {
		t.Fatalf("Do error = %v, want %v", err, want)
	}
	err := ns.Do(func() error { panic("kaboom") })
	if err == nil || !strings.Contains(err.Error(), "kaboom") {
		t.Fatalf("Do after panic = %v, want the panic as error", err)
	}
}

func TestExecRunsInside(t *testing.T) {
	ns := New(t)
	if err := ns.Do(func() error {
		err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "bgexec0"}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	out, err := ns.Exec(context.Background(), "cat", "/sys/class/net/bgexec0/ifindex").CombinedOutput()
	if err != nil {
		t.Fatalf("exec in namespace: %v: %s", err, out)
	}
	if strings.TrimSpace(string(out)) == "" {
		t.Fatal("no ifindex read inside the namespace")
	}
}

func TestCleanupDeletesNamespace(t *testing.T) {
	var path string
	t.Run("inner", func(t *testing.T) {
		path = New(t).Path()
	})
	if path == "" {
		t.Skip("inner test skipped")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("namespace %s still mounted after cleanup: %v", path, err)
	}
}
