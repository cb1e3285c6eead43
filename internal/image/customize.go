package image

import (
	"banger/internal/agent/assets"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Guest paths and units the customisation writes.
const (
	AgentPath = "/usr/local/bin/banger-agent"
	// WorkMount is where the guest mounts the work disk (label banger-work).
	// The fstab line has nofail, so a VM without one boots without waiting
	// for it (automount needs autofs4, a module the guest may not have).
	WorkMount = "/work"
)

// masked units slow the boot or touch the network for nothing in a
// short-lived VM; they are linked to /dev/null.
var masked = []string{
	"apt-daily.timer", "apt-daily-upgrade.timer", "apt-daily.service", "apt-daily-upgrade.service",
	"man-db.timer", "dpkg-db-backup.timer", "e2scrub_all.timer", "e2scrub_reap.service",
	"fstrim.timer", "systemd-networkd-wait-online.service", "getty@tty1.service",
	"systemd-timesyncd.service",
}

// guestFile is one file the customisation writes.
type guestFile struct {
	path string
	mode fs.FileMode
	data string
}

// banger-net (or the kernel, with CONFIG_IP_PNP) configures eth0 from ip=.
// networkd is not enabled in the image; should something enable it, this
// file keeps it from flushing or replacing that address and route.
const networkdFile = `[Match]
Name=eth0

[Network]
DHCP=no
LinkLocalAddressing=no
IPv6AcceptRA=no
KeepConfiguration=yes
`

// netScript applies the kernel's ip= argument in userspace. Kernels built
// without CONFIG_IP_PNP (Debian's, among them) ignore ip= and pass it to
// init; where the kernel did configure the NIC, re-applying the same
// address and route changes nothing. The hostname and DNS servers of ip=
// are applied too (/proc/net/pnp exists only with IP_PNP).
const netScript = `#!/bin/sh
# Written by banger.
# ip=<client>:<server>:<gw>:<netmask>:<hostname>:<device>:<autoconf>:<dns0>:<dns1>
set -eu
arg=
for w in $(cat /proc/cmdline); do
	case "$w" in ip=*) arg=${w#ip=} ;; esac
done
[ -n "$arg" ] || exit 0
IFS=: read -r addr server gw mask host dev autoconf dns0 dns1 <<EOF
$arg
EOF
dev=${dev:-eth0}

prefix() (
	n=0
	IFS=.
	for o in $1; do
		case $o in
		255) n=$((n + 8)) ;; 254) n=$((n + 7)) ;; 252) n=$((n + 6)) ;;
		248) n=$((n + 5)) ;; 240) n=$((n + 4)) ;; 224) n=$((n + 3)) ;;
		192) n=$((n + 2)) ;; 128) n=$((n + 1)) ;;
		esac
	done
	echo $n
)

if [ -n "$host" ]; then
	echo "$host" > /proc/sys/kernel/hostname
	printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' "$host" > /etc/hosts
fi
if [ -n "$dns0$dns1" ]; then
	{
		[ -z "$dns0" ] || echo "nameserver $dns0"
		[ -z "$dns1" ] || echo "nameserver $dns1"
	} > /etc/resolv.conf
elif [ -r /proc/net/pnp ]; then
	# Only replace resolv.conf with something: an empty pnp must not wipe it.
	ns=$(grep '^nameserver' /proc/net/pnp || true)
	[ -z "$ns" ] || echo "$ns" > /etc/resolv.conf
fi

case "$addr" in "" | dhcp | on | any | off | none) exit 0 ;; esac
# The NIC driver is a module that udev loads: wait up to 10 s for it.
i=0
while [ ! -e "/sys/class/net/$dev" ] && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
ip link set dev "$dev" up
ip addr replace "$addr/$(prefix "${mask:-255.255.255.255}")" dev "$dev"
[ -z "$gw" ] || ip route replace default via "$gw" dev "$dev" onlink
`

const netUnit = `[Unit]
Description=banger: network, hostname and DNS from the kernel ip= argument
DefaultDependencies=no
After=local-fs.target systemd-udevd.service
Wants=network.target
Before=network.target network-online.target nss-lookup.target ssh.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/banger-net

[Install]
WantedBy=multi-user.target
`

// Host keys are not baked into the image, so VMs cloned from it do not
// share them: each VM makes its own ed25519 key at first boot (RSA keygen
// is slow under TCG, and sshd is told to use the ed25519 key only).
const hostKeyUnit = `[Unit]
Description=banger: generate the SSH host key on first boot
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key
Before=ssh.service

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -q -t ed25519 -N "" -f /etc/ssh/ssh_host_ed25519_key

[Install]
WantedBy=multi-user.target ssh.service
`

// A disk cloned as a qcow2 overlay (or not grown on the host) is larger
// than its filesystem; ext4 grows online, and this is a no-op otherwise.
const growUnit = `[Unit]
Description=banger: grow the root filesystem to its disk
After=local-fs.target

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'resize2fs "$(findmnt -no SOURCE /)"'

[Install]
WantedBy=multi-user.target
`

const sshdConfig = `# Written by banger.
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
HostKey /etc/ssh/ssh_host_ed25519_key
`

const fstab = `# Written by banger.
LABEL=banger-root / ext4 defaults,noatime 0 1
LABEL=banger-work ` + WorkMount + ` ext4 defaults,noatime,nofail,x-systemd.device-timeout=1s 0 2
`

const hosts = `127.0.0.1	localhost
::1		localhost ip6-localhost ip6-loopback
`

// enabled lists (unit, target) pairs linked into target.wants.
var enabled = [][2]string{
	{"banger-net.service", "multi-user.target"},
	{"banger-ssh-hostkey.service", "multi-user.target"},
	{"banger-ssh-hostkey.service", "ssh.service"},
	{"banger-growfs.service", "multi-user.target"},
}

// customizeRootfs turns a debootstrapped tree at root into a banger guest:
// root's SSH key, sshd settings, fstab, hostname, networking from ip=,
// serial getty, first-boot host key, masked slow units, the agent and the
// extra files. s must have been through withDefaults. Running it twice on
// the same tree gives the same result.
func customizeRootfs(ctx context.Context, root string, s BootstrapSpec) error {
	files := []guestFile{
		{"/root/.ssh/authorized_keys", 0o600, strings.TrimSpace(s.SSHPublicKey) + "\n"},
		{"/etc/ssh/sshd_config.d/banger.conf", 0o644, sshdConfig},
		{"/etc/fstab", 0o644, fstab},
		{"/etc/hosts", 0o644, hosts},
		{"/etc/resolv.conf", 0o644, "# Written at boot from the kernel ip= argument.\n"},
		{"/etc/systemd/network/10-banger-eth0.network", 0o644, networkdFile},
		{"/usr/local/sbin/banger-net", 0o755, netScript},
		{"/etc/systemd/system/banger-net.service", 0o644, netUnit},
		{"/etc/systemd/system/banger-ssh-hostkey.service", 0o644, hostKeyUnit},
		{"/etc/systemd/system/banger-growfs.service", 0o644, growUnit},
	}
	if s.Hostname != "" {
		files = append(files, guestFile{"/etc/hostname", 0o644, s.Hostname + "\n"})
	} else if err := removeIn(root, "/etc/hostname"); err != nil {
		return err
	}
	if s.AgentBinary != "" {
		for _, f := range assets.Files() {
			files = append(files, guestFile{f.Path, fs.FileMode(f.Mode), string(f.Content)})
		}
	}
	if err := mkdirIn(root, "/root/.ssh", 0o700); err != nil {
		return err
	}
	for _, f := range files {
		if err := writeIn(root, f); err != nil {
			return err
		}
	}

	links := map[string]string{
		// Keep the kernel's name eth0 (no predictable renaming).
		"/etc/systemd/network/99-default.link":                              "/dev/null",
		"/etc/systemd/system/getty.target.wants/serial-getty@ttyS0.service": "/lib/systemd/system/serial-getty@.service",
	}
	if s.AgentBinary != "" {
		links[assets.UnitWantsLink] = assets.UnitPath
	}
	for _, u := range enabled {
		links["/etc/systemd/system/"+u[1]+".wants/"+u[0]] = "/etc/systemd/system/" + u[0]
	}
	for _, u := range masked {
		links["/etc/systemd/system/"+u] = "/dev/null"
	}
	for name, target := range links {
		if err := symlinkIn(root, name, target); err != nil {
			return err
		}
	}

	// An empty machine-id makes systemd generate one at every VM's first
	// boot, instead of all VMs sharing the one debootstrap wrote.
	if err := writeIn(root, guestFile{"/etc/machine-id", 0o444, ""}); err != nil {
		return err
	}
	if err := removeIn(root, "/var/lib/dbus/machine-id"); err != nil {
		return err
	}

	// Host keys made by openssh-server's postinst would be shared by every
	// VM; each VM makes its own at first boot instead.
	keys, _ := filepath.Glob(filepath.Join(root, "etc/ssh/ssh_host_*"))
	for _, k := range keys {
		if err := os.Remove(k); err != nil {
			return fmt.Errorf("removing baked-in host key: %w", err)
		}
	}

	if s.AgentBinary != "" {
		if err := copyInto(ctx, root, ExtraFile{Source: s.AgentBinary, Dest: AgentPath, Mode: 0o755}); err != nil {
			return err
		}
	}
	if err := mkdirIn(root, WorkMount, 0o755); err != nil {
		return err
	}
	for _, e := range s.ExtraFiles {
		if err := copyInto(ctx, root, e); err != nil {
			return err
		}
	}
	return nil
}

func mkdirIn(root, dir string, mode fs.FileMode) error {
	p := filepath.Join(root, dir)
	if err := os.MkdirAll(p, mode); err != nil {
		return fmt.Errorf("creating %s in the image: %w", dir, err)
	}
	if err := os.Chmod(p, mode); err != nil {
		return fmt.Errorf("setting mode of %s in the image: %w", dir, err)
	}
	return nil
}

func writeIn(root string, f guestFile) error {
	p := filepath.Join(root, f.path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("writing %s in the image: %w", f.path, err)
	}
	if err := removeIn(root, f.path); err != nil { // may be a symlink (resolv.conf)
		return err
	}
	if err := os.WriteFile(p, []byte(f.data), f.mode); err != nil {
		return fmt.Errorf("writing %s in the image: %w", f.path, err)
	}
	if err := os.Chmod(p, f.mode); err != nil { // umask
		return fmt.Errorf("setting mode of %s in the image: %w", f.path, err)
	}
	return nil
}

func removeIn(root, name string) error {
	if err := os.Remove(filepath.Join(root, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing %s in the image: %w", name, err)
	}
	return nil
}

func symlinkIn(root, name, target string) error {
	p := filepath.Join(root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("linking %s in the image: %w", name, err)
	}
	if err := removeIn(root, name); err != nil {
		return err
	}
	if err := os.Symlink(target, p); err != nil {
		return fmt.Errorf("linking %s in the image: %w", name, err)
	}
	return nil
}

// copyInto copies a host file or tree into the image. Trees go through
// cp -a, which keeps hard links, owners and special files.
func copyInto(ctx context.Context, root string, e ExtraFile) error {
	fi, err := os.Stat(e.Source)
	if err != nil {
		return fmt.Errorf("copying %s into the image: %w", e.Source, err)
	}
	dst := filepath.Join(root, e.Dest)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("copying %s into the image: %w", e.Source, err)
	}
	if fi.IsDir() {
		if err := os.RemoveAll(dst); err != nil {
			return fmt.Errorf("copying %s into the image: %w", e.Source, err)
		}
		if out, err := exec.CommandContext(ctx, "cp", "-a", "--reflink=auto", e.Source, dst).CombinedOutput(); err != nil {
			return fmt.Errorf("copying %s into the image: %w: %s", e.Source, err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	if err := removeIn(root, e.Dest); err != nil {
		return err
	}
	if err := copyFile(e.Source, dst); err != nil {
		return err
	}
	if e.Mode != 0 {
		if err := os.Chmod(dst, e.Mode); err != nil {
			return fmt.Errorf("setting mode of %s in the image: %w", e.Dest, err)
		}
	}
	return nil
}
