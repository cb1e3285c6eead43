package hostnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"testing"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"banger/internal/nstest"
)

// nsState is what hostnet may change in a namespace, read through netlink,
// nf_tables and /proc only.
type nsState struct {
	Links   []string // "name type master up addrs"
	Tables  []string // "family name"
	Forward string
}

func snapshot() (nsState, error) {
	var s nsState
	links, err := netlink.LinkList()
	if err != nil {
		return s, err
	}
	for _, l := range links {
		a := l.Attrs()
		addrs, err := netlink.AddrList(l, netlink.FAMILY_V4)
		if err != nil {
			return s, err
		}
		var as []string
		for _, ad := range addrs {
			as = append(as, ad.IPNet.String())
		}
		s.Links = append(s.Links, fmt.Sprintf("%s %s master=%d up=%t addrs=%v",
			a.Name, l.Type(), a.MasterIndex, a.Flags&net.FlagUp != 0, as))
	}
	slices.Sort(s.Links)
	c, err := nftables.New()
	if err != nil {
		return s, err
	}
	tables, err := c.ListTables()
	if err != nil {
		return s, err
	}
	for _, t := range tables {
		s.Tables = append(s.Tables, fmt.Sprintf("%s %s", familyName(t.Family), t.Name))
	}
	slices.Sort(s.Tables)
	s.Forward, err = readSysctl(ipForward)
	return s, err
}

func (s nsState) String() string {
	type plain nsState // no String method: no recursion
	return fmt.Sprintf("%+v", plain(s))
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// in runs f inside ns, failing the test on error.
func in(t *testing.T, ns *nstest.NS, f func() error) {
	t.Helper()
	if err := ns.Do(f); err != nil {
		t.Fatal(err)
	}
}

// newInNS makes a Linux network bound to ns, with forwarding off so the
// sysctl record is exercised whatever the host's default is.
func newInNS(t *testing.T, ns *nstest.NS, cfg Config, rec Recorder) *Linux {
	t.Helper()
	var l *Linux
	in(t, ns, func() error {
		if err := writeSysctl(ipForward, "0"); err != nil {
			return err
		}
		var err error
		l, err = New(cfg, rec, quietLog())
		return err
	})
	return l
}

func TestLinuxLifecycle(t *testing.T) {
	ns := nstest.New(t)
	ctx := context.Background()
	cfg := goldenConfigs["default"]
	rec := &MemRecorder{}
	l := newInNS(t, ns, cfg, rec)

	var before nsState
	in(t, ns, func() (err error) { before, err = snapshot(); return err })

	in(t, ns, func() error {
		for range 2 {
			if err := l.EnsureBridge(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	in(t, ns, func() error { return checkBridge(cfg) })
	if o, ok, _ := l.recorded(ctx, KindSysctl, ipForward); !ok || o.Owner != "0" {
		t.Fatalf("ip_forward record = %+v (found %t), want old value 0", o, ok)
	}

	taps := []string{TapName("0123456789abcdef"), TapName("vm2"), TapName("vm3")}
	in(t, ns, func() error {
		for _, tap := range taps {
			for range 2 {
				if err := l.EnsureTap(ctx, tap, "owner-"+tap); err != nil {
					return err
				}
			}
		}
		return nil
	})
	in(t, ns, func() error {
		for _, tap := range taps {
			if err := checkTap(tap, cfg.Bridge); err != nil {
				return err
			}
		}
		// Ports must not change the gateway's MAC or address.
		if err := checkBridge(cfg); err != nil {
			return err
		}
		return openAsVMM(taps[1])
	})

	var rendered []string
	in(t, ns, func() error {
		for range 2 {
			if err := l.EnsureFirewall(ctx); err != nil {
				return err
			}
			rs, ok, err := readRuleset(cfg.Table)
			if err != nil || !ok {
				return fmt.Errorf("reading table %s back: found %t: %v", cfg.Table, ok, err)
			}
			rendered = append(rendered, rs.String())
		}
		return nil
	})
	if rendered[0] != rendered[1] {
		t.Fatalf("second EnsureFirewall changed the rules:\n%s\n---\n%s", rendered[0], rendered[1])
	}
	checkGolden(t, "default", rendered[1])

	in(t, ns, func() error {
		for range 2 {
			if err := l.DeleteTap(ctx, taps[0]); err != nil {
				return err
			}
		}
		if link, err := linkByName(taps[0]); err != nil || link != nil {
			return fmt.Errorf("tap %s after DeleteTap: %v, %v", taps[0], link, err)
		}
		return nil
	})
	if _, ok, _ := l.recorded(ctx, KindTap, taps[0]); ok {
		t.Fatalf("deleted tap %s still recorded", taps[0])
	}

	in(t, ns, func() error {
		left, err := l.Leftovers(ctx)
		if err != nil {
			return err
		}
		// bridge, table, ip_forward, two taps; DeleteTap'd taps[0] is gone.
		if len(left) != 5 {
			return fmt.Errorf("Leftovers before Teardown = %+v, want bridge, table, sysctl and 2 taps", left)
		}
		return nil
	})

	var after nsState
	in(t, ns, func() (err error) {
		for range 2 {
			if err := l.Teardown(ctx); err != nil {
				return err
			}
		}
		if left, err := l.Leftovers(ctx); err != nil || len(left) != 0 {
			return fmt.Errorf("Leftovers after Teardown = %+v, %v; want none", left, err)
		}
		after, err = snapshot()
		return err
	})
	if after.String() != before.String() {
		t.Fatalf("namespace after Teardown differs:\n got %s\nwant %s", after, before)
	}
	if objs, _ := rec.Objects(ctx); len(objs) != 0 {
		t.Fatalf("records left after Teardown: %+v", objs)
	}
}

func checkBridge(cfg Config) error {
	link, err := netlink.LinkByName(cfg.Bridge)
	if err != nil {
		return err
	}
	if link.Type() != "bridge" || link.Attrs().Flags&net.FlagUp == 0 {
		return fmt.Errorf("bridge %s: type %s, flags %v", cfg.Bridge, link.Type(), link.Attrs().Flags)
	}
	addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return err
	}
	if got, want := link.Attrs().HardwareAddr.String(), bridgeMAC(cfg.Bridge).String(); got != want {
		return fmt.Errorf("bridge %s MAC = %s, want the fixed %s", cfg.Bridge, got, want)
	}
	if len(addrs) != 1 || addrs[0].IPNet.String() != cfg.Gateway.String() {
		return fmt.Errorf("bridge %s addresses = %v, want only %s", cfg.Bridge, addrs, cfg.Gateway)
	}
	if fw, err := readSysctl(ipForward); err != nil || fw != "1" {
		return fmt.Errorf("ip_forward = %q (%v), want 1", fw, err)
	}
	return nil
}

func checkTap(name, bridge string) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return err
	}
	br, err := netlink.LinkByName(bridge)
	if err != nil {
		return err
	}
	tap, ok := link.(*netlink.Tuntap)
	if !ok || tap.Mode != netlink.TUNTAP_MODE_TAP || tap.NonPersist || tap.Flags&netlink.TUNTAP_MULTI_QUEUE != 0 {
		return fmt.Errorf("%s is %#v, want a persistent single-queue tap", name, link)
	}
	if link.Attrs().MasterIndex != br.Attrs().Index || link.Attrs().Flags&net.FlagUp == 0 {
		return fmt.Errorf("%s: master %d (bridge %d), flags %v", name, link.Attrs().MasterIndex, br.Attrs().Index, link.Attrs().Flags)
	}
	pi, err := netlink.LinkGetProtinfo(link)
	if err != nil {
		return fmt.Errorf("reading bridge port info of %s: %w", name, err)
	}
	if !pi.Isolated {
		return fmt.Errorf("bridge port %s is not isolated", name)
	}
	return nil
}

// openAsVMM attaches to the persistent tap the way QEMU and Firecracker
// do (single queue, no packet info, virtio-net header): a tap created
// with other queue flags would refuse them.
func openAsVMM(name string) error {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening /dev/net/tun: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		return fmt.Errorf("attaching to tap %s as a VMM would: %w", name, err)
	}
	return nil
}

func TestTeardownRemovesOnlyRecorded(t *testing.T) {
	ns := nstest.New(t)
	ctx := context.Background()
	cfg := goldenConfigs["noports"]
	rec := &MemRecorder{}
	l := newInNS(t, ns, cfg, rec)
	foreignTable := &nftables.Table{Family: nftables.TableFamilyINet, Name: "other"}
	in(t, ns, func() error {
		if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "other0"}}); err != nil {
			return err
		}
		// A tap named the way banger names them, but not banger's.
		if err := netlink.LinkAdd(&netlink.Tuntap{LinkAttrs: netlink.LinkAttrs{Name: TapName("foreign")}, Mode: netlink.TUNTAP_MODE_TAP}); err != nil {
			return err
		}
		c, err := nftables.New()
		if err != nil {
			return err
		}
		c.AddTable(foreignTable)
		return c.Flush()
	})
	var before nsState
	in(t, ns, func() (err error) { before, err = snapshot(); return err })

	in(t, ns, func() error {
		if err := l.EnsureBridge(ctx); err != nil {
			return err
		}
		if err := l.EnsureTap(ctx, TapName("mine"), "mine"); err != nil {
			return err
		}
		if err := l.EnsureFirewall(ctx); err != nil {
			return err
		}
		for _, step := range []struct {
			name string
			err  error
		}{
			{"DeleteTap of a foreign tap", l.DeleteTap(ctx, TapName("foreign"))},
			{"EnsureTap over a foreign tap", l.EnsureTap(ctx, TapName("foreign"), "x")},
		} {
			if !errors.Is(step.err, ErrForeign) {
				return fmt.Errorf("%s: %v, want ErrForeign", step.name, step.err)
			}
		}
		return l.Teardown(ctx)
	})
	var after nsState
	in(t, ns, func() (err error) { after, err = snapshot(); return err })
	if after.String() != before.String() {
		t.Fatalf("Teardown touched what it did not record:\n got %s\nwant %s", after, before)
	}
}

func TestForeignBridgeIsNotAdopted(t *testing.T) {
	ns := nstest.New(t)
	cfg := goldenConfigs["noports"]
	cfg.Bridge = "other0"
	rec := &MemRecorder{}
	l := newInNS(t, ns, cfg, rec)
	in(t, ns, func() error {
		if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "other0"}}); err != nil {
			return err
		}
		if err := l.EnsureBridge(context.Background()); !errors.Is(err, ErrForeign) {
			return fmt.Errorf("EnsureBridge over a foreign bridge: %v, want ErrForeign", err)
		}
		return nil
	})
	if objs, _ := rec.Objects(context.Background()); len(objs) != 0 {
		t.Fatalf("recorded %+v for a foreign bridge", objs)
	}
}

// A Linux network bound to a test namespace must refuse to run on a
// thread of the machine's own namespace rather than change it.
func TestRefusesOtherNamespace(t *testing.T) {
	ns := nstest.New(t)
	l := newInNS(t, ns, goldenConfigs["default"], &MemRecorder{})
	if _, err := os.Stat(ns.Path()); err != nil {
		t.Fatal(err)
	}
	if err := l.EnsureBridge(context.Background()); !errors.Is(err, ErrWrongNamespace) {
		t.Fatalf("EnsureBridge from the host namespace: %v, want ErrWrongNamespace", err)
	}
}
