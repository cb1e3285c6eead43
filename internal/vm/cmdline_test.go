package vm

import (
	"net/netip"
	"testing"
)

func TestCmdline(t *testing.T) {
	got := Cmdline(NetParams{
		Addr: netip.MustParseAddr("172.30.0.7"), Prefix: netip.MustParsePrefix("172.30.0.0/24"),
		Gateway: netip.MustParseAddr("172.30.0.1"), DNS: netip.MustParseAddr("172.30.0.1"), Hostname: "dev",
	})
	want := "root=/dev/vda rw rootwait ip=172.30.0.7::172.30.0.1:255.255.255.0:dev:eth0:off:172.30.0.1 panic=1"
	if got != want {
		t.Fatalf("cmdline\n got %q\nwant %q", got, want)
	}
	if netmask(29) != "255.255.255.248" {
		t.Fatalf("netmask(29) = %s", netmask(29))
	}
}

func TestTapNameFitsIFNAMSIZ(t *testing.T) {
	if n := TapName("0123456789abcdef0123"); len(n) > 15 || n != "bg0123456789abc" {
		t.Fatalf("TapName = %q", n)
	}
	if MAC("a") == MAC("b") || MAC("a")[:6] != "52:54:" {
		t.Fatalf("MAC not derived per id: %s %s", MAC("a"), MAC("b"))
	}
}
