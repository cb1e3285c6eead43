package hostnet

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// String renders the ruleset in the register-level notation of
// `nft --debug=netlink`, with values decoded where the loaded field tells
// what they are (interface names, addresses, ports). Chains are sorted by
// name and only fields that survive a round trip through the kernel are
// shown, so the rules built and the rules read back render the same.
func (r ruleset) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "table %s %s\n", familyName(r.Table.Family), r.Table.Name)
	chains := slices.Clone(r.Chains)
	slices.SortFunc(chains, func(a, b chainRules) int { return strings.Compare(a.Chain.Name, b.Chain.Name) })
	for _, c := range chains {
		fmt.Fprintf(&b, "\nchain %s {%s}\n", c.Chain.Name, chainHeader(c.Chain))
		for _, rl := range c.Rules {
			comment, _ := userdata.GetString(rl.UserData, userdata.TypeComment)
			fmt.Fprintf(&b, "  rule # %s\n", comment)
			loads := map[uint32]expr.Any{}
			for _, e := range rl.Exprs {
				fmt.Fprintf(&b, "    [ %s ]\n", renderExpr(e, loads))
			}
		}
	}
	return b.String()
}

func familyName(f nftables.TableFamily) string {
	switch f {
	case nftables.TableFamilyINet:
		return "inet"
	case nftables.TableFamilyIPv4:
		return "ip"
	case nftables.TableFamilyIPv6:
		return "ip6"
	}
	return fmt.Sprintf("family-%d", f)
}

func chainHeader(c *nftables.Chain) string {
	var parts []string
	if c.Type != "" {
		parts = append(parts, "type "+string(c.Type))
	}
	if c.Hooknum != nil {
		parts = append(parts, "hook "+hookName(*c.Hooknum))
	}
	if c.Priority != nil {
		parts = append(parts, fmt.Sprintf("priority %d", *c.Priority))
	}
	if c.Policy != nil {
		p := "drop"
		if *c.Policy == nftables.ChainPolicyAccept {
			p = "accept"
		}
		parts = append(parts, "policy "+p)
	}
	if len(parts) == 0 {
		return ""
	}
	return " " + strings.Join(parts, "; ") + " "
}

func hookName(h nftables.ChainHook) string {
	switch h {
	case unix.NF_INET_PRE_ROUTING:
		return "prerouting"
	case unix.NF_INET_LOCAL_IN:
		return "input"
	case unix.NF_INET_FORWARD:
		return "forward"
	case unix.NF_INET_LOCAL_OUT:
		return "output"
	case unix.NF_INET_POST_ROUTING:
		return "postrouting"
	}
	return fmt.Sprintf("hook-%d", h)
}

var metaKeys = map[expr.MetaKey]string{
	expr.MetaKeyIIFNAME: "iifname",
	expr.MetaKeyOIFNAME: "oifname",
	expr.MetaKeyNFPROTO: "nfproto",
	expr.MetaKeyL4PROTO: "l4proto",
	expr.MetaKeyIIF:     "iif",
	expr.MetaKeyOIF:     "oif",
	expr.MetaKeyMARK:    "mark",
}

var cmpOps = map[expr.CmpOp]string{
	expr.CmpOpEq: "eq", expr.CmpOpNeq: "neq", expr.CmpOpLt: "lt",
	expr.CmpOpLte: "lte", expr.CmpOpGt: "gt", expr.CmpOpGte: "gte",
}

var payloadBases = map[expr.PayloadBase]string{
	expr.PayloadBaseLLHeader:        "link",
	expr.PayloadBaseNetworkHeader:   "network",
	expr.PayloadBaseTransportHeader: "transport",
}

// renderExpr renders one expression; loads remembers which expression last
// loaded each register, so a comparison can decode its operand.
func renderExpr(e expr.Any, loads map[uint32]expr.Any) string {
	switch e := e.(type) {
	case *expr.Meta:
		if e.SourceRegister {
			return fmt.Sprintf("meta set %s with reg %d", keyName(metaKeys, e.Key), e.Register)
		}
		loads[e.Register] = e
		return fmt.Sprintf("meta load %s => reg %d", keyName(metaKeys, e.Key), e.Register)
	case *expr.Ct:
		loads[e.Register] = e
		if e.Key == expr.CtKeySTATE {
			return fmt.Sprintf("ct load state => reg %d", e.Register)
		}
		return fmt.Sprintf("ct load key-%d => reg %d", e.Key, e.Register)
	case *expr.Payload:
		loads[e.DestRegister] = e
		return fmt.Sprintf("payload load %db @ %s header + %d => reg %d",
			e.Len, keyName(payloadBases, e.Base), e.Offset, e.DestRegister)
	case *expr.Bitwise:
		loads[e.DestRegister] = loads[e.SourceRegister]
		return fmt.Sprintf("bitwise reg %d = (reg %d & %s) ^ %s",
			e.DestRegister, e.SourceRegister, decode(loads[e.SourceRegister], e.Mask), decode(loads[e.SourceRegister], e.Xor))
	case *expr.Cmp:
		return fmt.Sprintf("cmp %s reg %d %s", keyName(cmpOps, e.Op), e.Register, decode(loads[e.Register], e.Data))
	case *expr.Masq:
		var flags []string
		for _, f := range []struct {
			on   bool
			name string
		}{{e.Random, "random"}, {e.FullyRandom, "fully-random"}, {e.Persistent, "persistent"}, {e.ToPorts, "to-ports"}} {
			if f.on {
				flags = append(flags, f.name)
			}
		}
		return strings.TrimSpace("masq " + strings.Join(flags, ","))
	case *expr.Verdict:
		return "immediate verdict " + verdictName(e.Kind)
	case *expr.Counter:
		return "counter"
	}
	return fmt.Sprintf("%T %+v", e, e)
}

func keyName[K comparable](names map[K]string, k K) string {
	if n, ok := names[k]; ok {
		return n
	}
	return fmt.Sprintf("%v", k)
}

func verdictName(k expr.VerdictKind) string {
	switch k {
	case expr.VerdictAccept:
		return "accept"
	case expr.VerdictDrop:
		return "drop"
	case expr.VerdictReturn:
		return "return"
	case expr.VerdictContinue:
		return "continue"
	}
	return fmt.Sprintf("%d", k)
}

// decode renders data as what the register was loaded with.
func decode(load expr.Any, data []byte) string {
	switch l := load.(type) {
	case *expr.Meta:
		switch l.Key {
		case expr.MetaKeyIIFNAME, expr.MetaKeyOIFNAME:
			return fmt.Sprintf("%q", strings.TrimRight(string(data), "\x00"))
		case expr.MetaKeyNFPROTO:
			if len(data) == 1 && data[0] == unix.NFPROTO_IPV4 {
				return "ipv4"
			}
			if len(data) == 1 && data[0] == unix.NFPROTO_IPV6 {
				return "ipv6"
			}
		case expr.MetaKeyL4PROTO:
			if len(data) == 1 {
				if n, ok := l4Names[data[0]]; ok {
					return n
				}
			}
		}
	case *expr.Ct:
		if l.Key == expr.CtKeySTATE && len(data) == 4 {
			return ctStateNames(binaryutil.NativeEndian.Uint32(data))
		}
	case *expr.Payload:
		if l.Base == expr.PayloadBaseNetworkHeader && len(data) == 4 {
			return netip.AddrFrom4([4]byte(data)).String()
		}
		if l.Base == expr.PayloadBaseTransportHeader && len(data) == 2 {
			return fmt.Sprintf("%d", binary.BigEndian.Uint16(data))
		}
	}
	return "0x" + hex.EncodeToString(data)
}

func ctStateNames(bits uint32) string {
	var names []string
	for _, s := range []struct {
		bit  uint32
		name string
	}{
		{expr.CtStateBitINVALID, "invalid"}, {expr.CtStateBitESTABLISHED, "established"},
		{expr.CtStateBitRELATED, "related"}, {expr.CtStateBitNEW, "new"}, {expr.CtStateBitUNTRACKED, "untracked"},
	} {
		if bits&s.bit != 0 {
			names = append(names, s.name)
			bits &^= s.bit
		}
	}
	if bits != 0 || len(names) == 0 {
		names = append(names, fmt.Sprintf("%#x", bits))
	}
	return strings.Join(names, ",")
}

var l4Names = map[byte]string{unix.IPPROTO_TCP: "tcp", unix.IPPROTO_UDP: "udp", unix.IPPROTO_ICMP: "icmp"}
