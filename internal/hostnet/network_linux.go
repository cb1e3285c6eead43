package hostnet

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

var _ Network = (*Linux)(nil)

// Linux is the Network on a Linux host, through netlink and nf_tables (no
// `ip` or `nft` commands). It works in the network namespace its creator
// was in when New was called; every method refuses to run from a thread in
// another namespace, so a stray goroutine cannot change the wrong one.
type Linux struct {
	mu   sync.Mutex
	cfg  Config
	rec  Recorder
	log  *slog.Logger
	nsID string // identity (device:inode) of the namespace New ran in
}

// New returns the Linux network for cfg, recording through rec. It changes
// nothing on the host.
func New(cfg Config, rec Recorder, log *slog.Logger) (*Linux, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("checking network config: %w", err)
	}
	id, err := currentNS()
	if err != nil {
		return nil, err
	}
	return &Linux{cfg: cfg, rec: rec, log: log, nsID: id}, nil
}

func currentNS() (string, error) {
	h, err := netns.Get()
	if err != nil {
		return "", fmt.Errorf("getting the network namespace: %w", err)
	}
	defer h.Close()
	return h.UniqueId(), nil
}

// ErrWrongNamespace: a method ran on a thread outside the namespace New ran in.
var ErrWrongNamespace = errors.New("called from another network namespace than New")

// check refuses to start once ctx is done (netlink calls take no context)
// or on a thread of another namespace.
func (l *Linux) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	id, err := currentNS()
	if err != nil {
		return err
	}
	if id != l.nsID {
		return fmt.Errorf("%w: %s, not %s", ErrWrongNamespace, id, l.nsID)
	}
	return nil
}

// recorded returns the recorded object of kind and name, if any.
func (l *Linux) recorded(ctx context.Context, kind, name string) (Object, bool, error) {
	objs, err := l.rec.Objects(ctx)
	if err != nil {
		return Object{}, false, fmt.Errorf("listing recorded host objects: %w", err)
	}
	for _, o := range objs {
		if o.Kind == kind && o.Name == name {
			return o, true, nil
		}
	}
	return Object{}, false, nil
}

// linkByName returns the link, or nil if there is none of that name.
func linkByName(name string) (netlink.Link, error) {
	link, err := netlink.LinkByName(name)
	if errors.As(err, new(netlink.LinkNotFoundError)) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("looking up link %s: %w", name, err)
	}
	return link, nil
}

// adopt decides whether the existing link (nil: none) may be used as the
// recorded object kind/name: a link banger did not record is foreign.
func (l *Linux) adopt(ctx context.Context, link netlink.Link, kind, name, wantType string) error {
	if link == nil {
		return nil
	}
	if _, ok, err := l.recorded(ctx, kind, name); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("%s %s: %w", kind, name, ErrForeign)
	}
	if link.Type() != wantType {
		return fmt.Errorf("%s %s: is a %s link, not a %s", kind, name, link.Type(), wantType)
	}
	return nil
}

// EnsureBridge creates the bridge (recorded first), gives it the gateway
// address once, brings it up and turns on IPv4 forwarding (recording the
// value it had). A second call changes nothing. A bridge of that name that
// banger did not record is left alone and reported as ErrForeign.
func (l *Linux) EnsureBridge(ctx context.Context) error {
	l.mu.Lock() // one host change at a time: concurrent creates share the bridge
	defer l.mu.Unlock()
	if err := l.check(ctx); err != nil {
		return err
	}
	name := l.cfg.Bridge
	link, err := linkByName(name)
	if err != nil {
		return err
	}
	if err := l.adopt(ctx, link, KindBridge, name, "bridge"); err != nil {
		return err
	}
	if link == nil {
		if err := l.rec.Record(ctx, Object{Kind: KindBridge, Name: name}); err != nil {
			return fmt.Errorf("recording bridge %s: %w", name, err)
		}
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name, HardwareAddr: bridgeMAC(name)}}
		if err := netlink.LinkAdd(br); err != nil {
			return fmt.Errorf("creating bridge %s: %w", name, err)
		}
		l.log.Info("created bridge", "bridge", name)
		if link, err = netlink.LinkByName(name); err != nil {
			return fmt.Errorf("looking up bridge %s: %w", name, err)
		}
	}
	if err := ensureAddr(link, l.cfg); err != nil {
		return err
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("bringing up bridge %s: %w", name, err)
	}
	return l.ensureForwarding(ctx)
}

// bridgeMAC is a fixed, locally administered MAC for the bridge. Without
// one, the bridge takes the lowest MAC of its ports, so the gateway's MAC
// would change as taps come and go and guests' ARP entries would go stale.
func bridgeMAC(name string) net.HardwareAddr {
	sum := sha256.Sum256([]byte("banger bridge " + name))
	mac := net.HardwareAddr(sum[:6])
	mac[0] = mac[0]&^0x01 | 0x02 // unicast, locally administered
	return mac
}

func ensureAddr(link netlink.Link, cfg Config) error {
	gw := cfg.Gateway
	addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("listing addresses of %s: %w", cfg.Bridge, err)
	}
	for _, a := range addrs {
		if a.IPNet != nil && a.IP.Equal(net.IP(gw.Addr().AsSlice())) {
			if ones, _ := a.Mask.Size(); ones == gw.Bits() {
				return nil
			}
		}
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: gw.Addr().AsSlice(), Mask: net.CIDRMask(gw.Bits(), 32)}}
	if err := netlink.AddrAdd(link, addr); err != nil {
		return fmt.Errorf("adding address %s to %s: %w", gw, cfg.Bridge, err)
	}
	return nil
}

// TapName is the tap device name of a VM: "bg" and the first 13 characters
// of its id, within the kernel's 15-character limit.
func TapName(vmID string) string {
	const keep = maxIfName - 2
	if len(vmID) > keep {
		vmID = vmID[:keep]
	}
	return "bg" + vmID
}

// EnsureTap creates the persistent tap name for VM owner (recorded first),
// attaches it to the bridge as an isolated port (guests cannot reach each
// other at L2) and brings it up. A second call changes nothing. The bridge
// must exist. A tap of that name that banger did not record is ErrForeign;
// one recorded for another VM is ErrOtherOwner.
func (l *Linux) EnsureTap(ctx context.Context, name, owner string) error {
	l.mu.Lock() // one host change at a time: concurrent creates share the bridge
	defer l.mu.Unlock()
	if err := l.check(ctx); err != nil {
		return err
	}
	if err := checkTapName(name); err != nil {
		return err
	}
	br, err := linkByName(l.cfg.Bridge)
	if err != nil {
		return err
	}
	if br == nil {
		return fmt.Errorf("attaching tap %s: bridge %s does not exist (EnsureBridge first)", name, l.cfg.Bridge)
	}
	if o, ok, err := l.recorded(ctx, KindTap, name); err != nil {
		return err
	} else if ok && o.Owner != owner {
		return fmt.Errorf("tap %s: recorded for VM %s, not %s: %w", name, o.Owner, owner, ErrOtherOwner)
	}
	link, err := linkByName(name)
	if err != nil {
		return err
	}
	if err := l.adopt(ctx, link, KindTap, name, "tuntap"); err != nil {
		return err
	}
	if link == nil {
		if err := l.rec.Record(ctx, Object{Kind: KindTap, Name: name, Owner: owner}); err != nil {
			return fmt.Errorf("recording tap %s: %w", name, err)
		}
		// Single queue (multi_queue off): the VMM opens it with IFF_TAP
		// only; vnet_hdr and no_pi are set again by whoever opens it.
		tap := &netlink.Tuntap{
			LinkAttrs: netlink.LinkAttrs{Name: name},
			Mode:      netlink.TUNTAP_MODE_TAP,
			Flags:     netlink.TUNTAP_NO_PI | netlink.TUNTAP_VNET_HDR,
		}
		if err := netlink.LinkAdd(tap); err != nil {
			return fmt.Errorf("creating tap %s: %w", name, err)
		}
		l.log.Info("created tap", "tap", name, "vm", owner)
		if link, err = netlink.LinkByName(name); err != nil {
			return fmt.Errorf("looking up tap %s: %w", name, err)
		}
	}
	if link.Attrs().MasterIndex != br.Attrs().Index {
		if err := netlink.LinkSetMaster(link, br); err != nil {
			return fmt.Errorf("attaching tap %s to %s: %w", name, l.cfg.Bridge, err)
		}
	}
	// Isolated before up: the port never forwards to another guest.
	if err := netlink.LinkSetIsolated(link, true); err != nil {
		return fmt.Errorf("isolating bridge port %s: %w", name, err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("bringing up tap %s: %w", name, err)
	}
	return nil
}

// DeleteTap deletes the recorded tap name and forgets it. A second call,
// or a tap that is already gone, is not an error. A tap banger did not
// record is not deleted (ErrForeign).
func (l *Linux) DeleteTap(ctx context.Context, name string) error {
	l.mu.Lock() // one host change at a time: concurrent creates share the bridge
	defer l.mu.Unlock()
	if err := l.check(ctx); err != nil {
		return err
	}
	link, err := linkByName(name)
	if err != nil {
		return err
	}
	if link != nil {
		if err := l.adopt(ctx, link, KindTap, name, "tuntap"); err != nil {
			return err
		}
	}
	return l.removeLink(ctx, KindTap, name)
}

// removeLink deletes the link if present, then forgets the record.
func (l *Linux) removeLink(ctx context.Context, kind, name string) error {
	link, err := linkByName(name)
	if err != nil {
		return err
	}
	if link != nil {
		if err := netlink.LinkDel(link); err != nil && !errors.As(err, new(netlink.LinkNotFoundError)) {
			return fmt.Errorf("deleting %s %s: %w", kind, name, err)
		}
		l.log.Info("deleted "+kind, kind, name)
	}
	if err := l.rec.Forget(ctx, kind, name); err != nil {
		return fmt.Errorf("forgetting %s %s: %w", kind, name, err)
	}
	return nil
}
