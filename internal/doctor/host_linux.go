package doctor

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// HostProbe is the real Probe. It only reads.
type HostProbe struct {
	// NetNSPath, when set, is the network namespace (e.g. /run/netns/x)
	// whose nftables NFTables lists; "" means the caller's.
	NetNSPath string
}

var _ Probe = (*HostProbe)(nil)

// Host returns the real probe for the caller's network namespace.
func Host() *HostProbe { return &HostProbe{} }

// sbinDirs are tried after PATH: a daemon started with a user's PATH may
// lack them, and mkfs.ext4, e2fsck, resize2fs live there.
var sbinDirs = []string{"/usr/local/sbin", "/usr/sbin", "/sbin"}

func (*HostProbe) LookPath(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err == nil || strings.Contains(name, "/") {
		return p, err
	}
	for _, d := range sbinDirs {
		if p, e := exec.LookPath(filepath.Join(d, name)); e == nil {
			return p, nil
		}
	}
	return "", err
}

func (*HostProbe) Stat(path string) (FileInfo, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return FileInfo{}, err
	}
	info := FileInfo{Mode: fi.Mode()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		info.UID = st.Uid
	}
	return info, nil
}

func (*HostProbe) ReadFile(path string) ([]byte, error) { return os.ReadFile(path) }

// kvmGetAPIVersion is _IO(KVMIO, 0x00).
const kvmGetAPIVersion = 0xAE00

func (*HostProbe) OpenKVM(path string) (int, error) {
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	v, err := unix.IoctlRetInt(int(f.Fd()), kvmGetAPIVersion)
	if err != nil {
		return 0, fmt.Errorf("KVM_GET_API_VERSION: %w", err)
	}
	return v, nil
}

func (*HostProbe) FreeBytes(path string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", path, err)
	}
	return st.Bavail * uint64(st.Bsize), nil
}

func (*HostProbe) Version(ctx context.Context, bin string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, "--version")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second // a child holding the pipes must not stall us
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("running %s --version: %w: %s", bin, err, strings.TrimSpace(stderr.String()))
	}
	line, _, _ := strings.Cut(strings.TrimSpace(stdout.String()), "\n")
	if line == "" {
		return "", fmt.Errorf("running %s --version: no output", bin)
	}
	return line, nil
}

func (h *HostProbe) NFTables(ctx context.Context) ([]string, error) {
	type result struct {
		tables []string
		err    error
	}
	done := make(chan result, 1)
	// netlink reads have no deadline of their own; the buffered channel
	// lets a stuck query end by itself after we stop waiting.
	go func() {
		t, err := h.listTables()
		done <- result{t, err}
	}()
	select {
	case res := <-done:
		return res.tables, res.err
	case <-ctx.Done():
		return nil, fmt.Errorf("listing nftables tables: %w", ctx.Err())
	}
}

func (h *HostProbe) listTables() ([]string, error) {
	opts := []nftables.ConnOption{nftables.AsLasting()}
	if h.NetNSPath != "" {
		ns, err := os.Open(h.NetNSPath)
		if err != nil {
			return nil, fmt.Errorf("opening netns %s: %w", h.NetNSPath, err)
		}
		defer ns.Close()
		opts = append(opts, nftables.WithNetNSFd(int(ns.Fd())))
	}
	conn, err := nftables.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("opening nftables netlink: %w", err)
	}
	tables, err := conn.ListTables()
	closeErr := conn.CloseLasting()
	if err != nil {
		return nil, fmt.Errorf("listing nftables tables: %w", err)
	}
	if closeErr != nil {
		return nil, fmt.Errorf("closing nftables netlink: %w", closeErr)
	}
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = familyName(t.Family) + " " + t.Name
	}
	return names, nil
}

func familyName(f nftables.TableFamily) string {
	switch f {
	case nftables.TableFamilyINet:
		return "inet"
	case nftables.TableFamilyIPv4:
		return "ip"
	case nftables.TableFamilyIPv6:
		return "ip6"
	case nftables.TableFamilyARP:
		return "arp"
	case nftables.TableFamilyNetdev:
		return "netdev"
	case nftables.TableFamilyBridge:
		return "bridge"
	}
	return fmt.Sprintf("family%d", f)
}
