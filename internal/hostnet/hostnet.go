// Package hostnet owns every change banger makes to the host's network:
// the bridge, per-VM taps, and banger's own nftables table. Every object is
// recorded (Recorder) before it is created and forgotten after it is removed;
// nothing is ever removed by guessing names.
package hostnet

import (
	"context"
	"errors"
	"net/netip"
)

// Object kinds recorded by hostnet.
const (
	KindBridge = "bridge"
	KindTap    = "tap"
	KindTable  = "nftables-table"
	// KindSysctl is a kernel setting banger changed (Name is its dotted
	// name, e.g. "net.ipv4.ip_forward"); Owner holds the value it had
	// before, which Teardown writes back.
	KindSysctl = "sysctl"
)

// teardownOrder removes taps before the table and the bridge they hang
// off, and restores sysctls last, when nothing routes through them.
var teardownOrder = []string{KindTap, KindTable, KindBridge, KindSysctl}

// ErrForeign: an object with the name banger wants exists but was not
// recorded by banger, so banger neither adopts nor removes it.
var ErrForeign = errors.New("exists but was not created by banger")

// ErrOtherOwner: EnsureTap of a tap that is recorded for another VM.
var ErrOtherOwner = errors.New("belongs to another VM")

// Object is one recorded host network object.
type Object struct {
	Kind  string
	Name  string
	Owner string // VM id for taps, "" for shared objects, old value for sysctls
}

// Recorder persists what hostnet creates (the store implements it).
type Recorder interface {
	// Record notes an object before it is created. Idempotent.
	Record(ctx context.Context, o Object) error
	// Forget drops the note after the object is removed. Idempotent.
	Forget(ctx context.Context, kind, name string) error
	// Objects lists every recorded object.
	Objects(ctx context.Context) ([]Object, error)
}

// Config is the shared part of the network.
type Config struct {
	Bridge  string       // e.g. "banger0"
	Gateway netip.Prefix // host address on the bridge, e.g. 172.30.0.1/24
	Table   string       // nftables table name, e.g. "banger"
	// HostPorts are TCP/UDP ports on the gateway that guests may reach
	// (e.g. DNS). Everything else from guests to the host is dropped.
	HostPorts []uint16
}

// Network is the host-network contract used by the VM lifecycle.
type Network interface {
	// EnsureBridge creates the bridge with the gateway address and brings it
	// up, and enables IPv4 forwarding (recorded as a KindSysctl with its old
	// value). Idempotent: a second call with the same config changes
	// nothing. A bridge of that name banger did not record is ErrForeign.
	EnsureBridge(ctx context.Context) error
	// EnsureFirewall installs NAT (masquerade of the guest subnet), forward
	// and input rules in banger's own table, replacing that table's content.
	// Idempotent. Never touches other tables.
	EnsureFirewall(ctx context.Context) error
	// EnsureTap creates tap `name` owned by VM `owner`, attached to the bridge
	// as an isolated port, and up. Idempotent. Needs the bridge. A tap
	// banger did not record is ErrForeign; another VM's is ErrOtherOwner.
	EnsureTap(ctx context.Context, name, owner string) error
	// DeleteTap removes a recorded tap. Idempotent: a missing tap is not an
	// error. An existing tap banger did not record is ErrForeign (kept).
	DeleteTap(ctx context.Context, name string) error
	// Teardown removes every recorded object (taps, table, bridge), restores
	// recorded sysctls, and touches nothing else. Idempotent.
	Teardown(ctx context.Context) error
}
