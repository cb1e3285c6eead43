package hostnet

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/vishvananda/netlink"

	"banger/internal/nstest"
)

// contractEnv is one Network implementation under the shared contract.
type contractEnv struct {
	net Network
	rec Recorder
	// do runs f where net may act (a thread inside the test namespace).
	do func(f func() error) error
	// addForeign makes a tap exist that banger did not record.
	addForeign func(name string) error
}

// Every implementation (the real one and the fake) is held to the same
// contract, so code tested against the fake holds against the kernel.
func TestContract(t *testing.T) {
	impls := map[string]func(t *testing.T) contractEnv{
		"fake": func(t *testing.T) contractEnv {
			rec := &MemRecorder{}
			f := NewFake(goldenConfigs["default"], rec)
			return contractEnv{net: f, rec: rec,
				do:         func(fn func() error) error { return fn() },
				addForeign: func(name string) error { f.AddForeign(KindTap, name); return nil },
			}
		},
		"linux": func(t *testing.T) contractEnv {
			ns := nstest.New(t)
			rec := &MemRecorder{}
			return contractEnv{net: newInNS(t, ns, goldenConfigs["default"], rec), rec: rec, do: ns.Do,
				addForeign: func(name string) error {
					return netlink.LinkAdd(&netlink.Tuntap{LinkAttrs: netlink.LinkAttrs{Name: name}, Mode: netlink.TUNTAP_MODE_TAP})
				},
			}
		},
	}
	for name, newEnv := range impls {
		t.Run(name, func(t *testing.T) {
			t.Run("TapNeedsBridge", func(t *testing.T) { contractTapNeedsBridge(t, newEnv(t)) })
			t.Run("Lifecycle", func(t *testing.T) { contractLifecycle(t, newEnv(t)) })
			t.Run("TapNameLimit", func(t *testing.T) { contractTapNameLimit(t, newEnv(t)) })
			t.Run("Foreign", func(t *testing.T) { contractForeign(t, newEnv(t)) })
		})
	}
}

// recordedNames lists "kind/name" of recorded bridges, tables and taps.
func recordedNames(t *testing.T, rec Recorder) []string {
	t.Helper()
	objs, err := rec.Objects(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, o := range objs {
		if o.Kind != KindSysctl {
			out = append(out, o.Kind+"/"+o.Name)
		}
	}
	slices.Sort(out)
	return out
}

func contractTapNeedsBridge(t *testing.T, e contractEnv) {
	err := e.do(func() error { return e.net.EnsureTap(context.Background(), "bgnobridge", "vm") })
	if err == nil {
		t.Fatal("EnsureTap without a bridge succeeded")
	}
	if got := recordedNames(t, e.rec); len(got) != 0 {
		t.Fatalf("recorded %v after a failed EnsureTap", got)
	}
}

func contractLifecycle(t *testing.T, e contractEnv) {
	ctx := context.Background()
	cfg := goldenConfigs["default"]
	twice := func(f func() error) error { return errors.Join(f(), f()) }
	err := e.do(func() error {
		return errors.Join(
			twice(func() error { return e.net.EnsureBridge(ctx) }),
			twice(func() error { return e.net.EnsureFirewall(ctx) }),
			twice(func() error { return e.net.EnsureTap(ctx, "bgvm1", "vm1") }),
			twice(func() error { return e.net.EnsureTap(ctx, "bgvm2", "vm2") }),
		)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.do(func() error { return e.net.EnsureTap(ctx, "bgvm2", "vm1") }); !errors.Is(err, ErrOtherOwner) {
		t.Fatalf("EnsureTap of another VM's tap: %v, want ErrOtherOwner", err)
	}
	want := []string{KindBridge + "/" + cfg.Bridge, KindTable + "/" + cfg.Table, KindTap + "/bgvm1", KindTap + "/bgvm2"}
	slices.Sort(want)
	if got := recordedNames(t, e.rec); !slices.Equal(got, want) {
		t.Fatalf("recorded %v, want %v", got, want)
	}
	if err := e.do(func() error {
		return errors.Join(
			twice(func() error { return e.net.DeleteTap(ctx, "bgvm1") }),
			e.net.DeleteTap(ctx, "bgnever"),
		)
	}); err != nil {
		t.Fatalf("DeleteTap: %v", err)
	}
	if got := recordedNames(t, e.rec); slices.Contains(got, KindTap+"/bgvm1") {
		t.Fatalf("deleted tap still recorded: %v", got)
	}
	if err := e.do(func() error { return twice(func() error { return e.net.Teardown(ctx) }) }); err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	if objs, _ := e.rec.Objects(ctx); len(objs) != 0 {
		t.Fatalf("records left after Teardown: %+v", objs)
	}
}

func contractForeign(t *testing.T, e contractEnv) {
	ctx := context.Background()
	const foreign = "bgforeign"
	err := e.do(func() error {
		if err := errors.Join(e.addForeign(foreign), e.net.EnsureBridge(ctx)); err != nil {
			return err
		}
		for _, step := range []struct {
			what string
			err  error
		}{
			{"EnsureTap", e.net.EnsureTap(ctx, foreign, "vm")},
			{"DeleteTap", e.net.DeleteTap(ctx, foreign)},
		} {
			if !errors.Is(step.err, ErrForeign) {
				return fmt.Errorf("%s of a foreign tap: %v, want ErrForeign", step.what, step.err)
			}
		}
		if err := e.net.Teardown(ctx); err != nil {
			return err
		}
		// Still there after Teardown: still foreign.
		if err := e.net.DeleteTap(ctx, foreign); !errors.Is(err, ErrForeign) {
			return fmt.Errorf("DeleteTap of the foreign tap after Teardown: %v, want ErrForeign", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func contractTapNameLimit(t *testing.T, e contractEnv) {
	ctx := context.Background()
	err := e.do(func() error {
		if err := e.net.EnsureBridge(ctx); err != nil {
			return err
		}
		if err := e.net.EnsureTap(ctx, "bg0123456789abcd", "vm"); err == nil {
			return errors.New("EnsureTap accepted a 16-character name")
		}
		return e.net.EnsureTap(ctx, TapName("0123456789abcdef-long-id"), "vm")
	})
	if err != nil {
		t.Fatal(err)
	}
}
