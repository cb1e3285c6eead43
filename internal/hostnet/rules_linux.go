package hostnet

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// ruleset is banger's whole nftables table: what EnsureFirewall installs,
// and what readRuleset reads back from the kernel, in one shape so both
// render to the same text.
type ruleset struct {
	Table  *nftables.Table
	Chains []chainRules
}

type chainRules struct {
	Chain *nftables.Chain
	Rules []*nftables.Rule
}

// buildRuleset is the pure description of banger's firewall for cfg. The
// table is private to banger (family inet); its chains accept by default
// so they never decide for traffic that is not banger's, and they cannot
// override a drop in another table either: that stays the host's choice.
func buildRuleset(cfg Config) (ruleset, error) {
	if err := cfg.validate(); err != nil {
		return ruleset{}, err
	}
	br := cfg.Bridge
	gw := cfg.Gateway.Addr()
	table := &nftables.Table{Family: nftables.TableFamilyINet, Name: cfg.Table}
	accept := nftables.ChainPolicyAccept
	chain := func(name string, typ nftables.ChainType, hook *nftables.ChainHook, prio *nftables.ChainPriority) *nftables.Chain {
		return &nftables.Chain{Name: name, Table: table, Type: typ, Hooknum: hook, Priority: prio, Policy: &accept}
	}

	post := chain("postrouting", nftables.ChainTypeNAT, nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource)
	forward := chain("forward", nftables.ChainTypeFilter, nftables.ChainHookForward, nftables.ChainPriorityFilter)
	input := chain("input", nftables.ChainTypeFilter, nftables.ChainHookInput, nftables.ChainPriorityFilter)

	inputRules := []*nftables.Rule{
		rule(input, "guests: replies to flows the host opened or allowed",
			ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, br), ctEstablished(), verdict(expr.VerdictAccept)),
	}
	for _, p := range cfg.HostPorts {
		for _, proto := range []struct {
			name string
			num  byte
		}{{"tcp", unix.IPPROTO_TCP}, {"udp", unix.IPPROTO_UDP}} {
			inputRules = append(inputRules, rule(input, fmt.Sprintf("guests: gateway service %s/%d", proto.name, p),
				ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, br), ip4Daddr(gw), l4proto(proto.num), dport(p), verdict(expr.VerdictAccept)))
		}
	}
	inputRules = append(inputRules,
		rule(input, "guests: ping the gateway",
			ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, br), ip4Daddr(gw), l4proto(unix.IPPROTO_ICMP), icmpType(8), verdict(expr.VerdictAccept)),
		rule(input, "guests: nothing else on the host",
			ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, br), verdict(expr.VerdictDrop)),
	)

	return ruleset{Table: table, Chains: []chainRules{
		{Chain: post, Rules: []*nftables.Rule{
			rule(post, "guests: masquerade traffic leaving the bridge",
				ip4Saddr(cfg.Gateway.Masked()), ifname(expr.MetaKeyOIFNAME, expr.CmpOpNeq, br), []expr.Any{&expr.Masq{}}),
		}},
		{Chain: forward, Rules: []*nftables.Rule{
			rule(forward, "replies to flows already allowed", ctEstablished(), verdict(expr.VerdictAccept)),
			rule(forward, "guests: not to each other (matters when br_netfilter is on)",
				ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, br), ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, br), verdict(expr.VerdictDrop)),
			rule(forward, "guests: out to the world",
				ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, br), ifname(expr.MetaKeyOIFNAME, expr.CmpOpNeq, br), verdict(expr.VerdictAccept)),
			rule(forward, "guests: no new connections from outside",
				ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, br), verdict(expr.VerdictDrop)),
		}},
		{Chain: input, Rules: inputRules},
	}}, nil
}

// validate checks what the firewall and the bridge need from cfg.
func (cfg Config) validate() error {
	switch {
	case cfg.Bridge == "" || len(cfg.Bridge) >= unix.IFNAMSIZ:
		return fmt.Errorf("bridge name %q: must be 1 to %d characters", cfg.Bridge, unix.IFNAMSIZ-1)
	case !cfg.Gateway.IsValid() || !cfg.Gateway.Addr().Is4():
		return fmt.Errorf("gateway %v: must be an IPv4 address with prefix length", cfg.Gateway)
	case cfg.Gateway.Addr() == cfg.Gateway.Masked().Addr():
		return fmt.Errorf("gateway %v: is the network address, not a host address", cfg.Gateway)
	case cfg.Table == "":
		return fmt.Errorf("nftables table name is empty")
	}
	return nil
}

func rule(c *nftables.Chain, comment string, parts ...[]expr.Any) *nftables.Rule {
	var exprs []expr.Any
	for _, p := range parts {
		exprs = append(exprs, p...)
	}
	return &nftables.Rule{
		Table:    c.Table,
		Chain:    c,
		Exprs:    exprs,
		UserData: userdata.AppendString(nil, userdata.TypeComment, comment),
	}
}

// ifnameData is an interface name as nft compares it: NUL-padded to IFNAMSIZ.
func ifnameData(name string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return b
}

func ifname(key expr.MetaKey, op expr.CmpOp, name string) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: op, Register: 1, Data: ifnameData(name)},
	}
}

func ctEstablished() []expr.Any {
	return []expr.Any{
		&expr.Ct{Key: expr.CtKeySTATE, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitESTABLISHED | expr.CtStateBitRELATED),
			Xor:  binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
	}
}

func ipv4Only() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
	}
}

// Offsets of the IPv4 source and destination addresses in the header.
const (
	ip4SaddrOffset = 12
	ip4DaddrOffset = 16
)

func ip4Saddr(p netip.Prefix) []expr.Any {
	mask := make([]byte, 4)
	binary.BigEndian.PutUint32(mask, ^uint32(0)<<(32-p.Bits()))
	addr := p.Addr().As4()
	return append(ipv4Only(),
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: ip4SaddrOffset, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: addr[:]},
	)
}

func ip4Daddr(a netip.Addr) []expr.Any {
	b := a.As4()
	return append(ipv4Only(),
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: ip4DaddrOffset, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: b[:]},
	)
}

func l4proto(p byte) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}},
	}
}

// dport matches the TCP/UDP destination port (bytes 2-3 of either header).
func dport(p uint16) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(p)},
	}
}

func icmpType(t byte) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{t}},
	}
}

func verdict(k expr.VerdictKind) []expr.Any {
	return []expr.Any{&expr.Verdict{Kind: k}}
}
