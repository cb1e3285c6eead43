package vm

import (
	"crypto/sha256"
	"fmt"
	"net/netip"
	"strings"
)

// NetParams is the guest's address configuration, passed on the kernel
// command line with ip= (see Documentation/admin-guide/nfs/nfsroot.rst):
// ip=<client>::<gw>:<netmask>:<hostname>:<device>:off:<dns0>
type NetParams struct {
	Addr     netip.Addr
	Prefix   netip.Prefix // the guest subnet
	Gateway  netip.Addr
	DNS      netip.Addr // may be invalid (zero) for none
	Hostname string
}

// Cmdline builds the portable part of the guest kernel command line.
// The root disk is the first virtio block device.
func Cmdline(p NetParams) string {
	mask := netmask(p.Prefix.Bits())
	ip := fmt.Sprintf("ip=%s::%s:%s:%s:eth0:off", p.Addr, p.Gateway, mask, p.Hostname)
	if p.DNS.IsValid() {
		ip += ":" + p.DNS.String()
	}
	return strings.Join([]string{"root=/dev/vda", "rw", "rootwait", ip, "panic=1"}, " ")
}

func netmask(bits int) string {
	m := ^uint32(0) << (32 - bits)
	return fmt.Sprintf("%d.%d.%d.%d", m>>24, m>>16&0xff, m>>8&0xff, m&0xff)
}

// MAC derives a stable, locally administered unicast MAC from the VM id.
func MAC(vmID string) string {
	h := sha256.Sum256([]byte(vmID))
	return fmt.Sprintf("52:54:%02x:%02x:%02x:%02x", h[0], h[1], h[2], h[3])
}

// TapName is the host tap for a VM: at most 15 bytes (IFNAMSIZ-1).
func TapName(vmID string) string {
	id := vmID
	if len(id) > 13 {
		id = id[:13]
	}
	return "bg" + id
}
