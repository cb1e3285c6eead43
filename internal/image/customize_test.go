package image

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeRootfs looks like a fresh debootstrap where it matters here: baked
// host keys, the host's hostname and resolv.conf.
func fakeRootfs(t *testing.T) string {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "etc/ssh/ssh_host_rsa_key"), []byte("secret"), 0o600)
	writeFile(t, filepath.Join(root, "etc/ssh/ssh_host_rsa_key.pub"), []byte("pub"), 0o644)
	writeFile(t, filepath.Join(root, "etc/hostname"), []byte("buildhost\n"), 0o644)
	writeFile(t, filepath.Join(root, "etc/resolv.conf"), []byte("nameserver 10.0.0.1\n"), 0o644)
	return root
}

func TestCustomizeRootfs(t *testing.T) {
	root := fakeRootfs(t)
	host := t.TempDir()
	agent := filepath.Join(host, "agent")
	writeFile(t, agent, []byte("#!/bin/true\n"), 0o600)
	tree := filepath.Join(host, "prefix")
	writeFile(t, filepath.Join(tree, "bin/node"), []byte("node"), 0o755)
	if err := os.Link(filepath.Join(tree, "bin/node"), filepath.Join(tree, "bin/node-link")); err != nil {
		t.Fatal(err)
	}
	spec := BootstrapSpec{
		Mirror: "http://mirror.example/debian", SSHPublicKey: "ssh-ed25519 AAAA banger\n",
		AgentBinary: agent,
		ExtraFiles:  []ExtraFile{{Source: tree, Dest: "/opt/agents"}},
	}
	s, err := spec.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	// Twice: the second run must give the same tree and not fail on what
	// the first one created.
	for range 2 {
		if err := customizeRootfs(context.Background(), root, s); err != nil {
			t.Fatalf("customizeRootfs: %v", err)
		}
	}

	files := []struct {
		path     string
		mode     fs.FileMode
		contains string
	}{
		{"root/.ssh/authorized_keys", 0o600, "ssh-ed25519 AAAA banger\n"},
		{"etc/ssh/sshd_config.d/banger.conf", 0o644, "PermitRootLogin prohibit-password"},
		{"etc/fstab", 0o644, "LABEL=banger-root / ext4"},
		{"etc/systemd/network/10-banger-eth0.network", 0o644, "KeepConfiguration=yes"},
		{"usr/local/sbin/banger-net", 0o755, "/proc/cmdline"},
		{"etc/systemd/system/banger-ssh-hostkey.service", 0o644, "ssh-keygen"},
		{"etc/systemd/system/banger-agent.service", 0o644, "ExecStart=/usr/local/bin/banger-agent "},
		{"etc/modules-load.d/banger-agent.conf", 0o644, "virtio_console"},
		{"usr/local/bin/banger-agent", 0o755, "#!/bin/true"},
		{"opt/agents/bin/node", 0o755, "node"},
		{"etc/resolv.conf", 0o644, "ip= argument"},
	}
	for _, f := range files {
		p := filepath.Join(root, f.path)
		fi, err := os.Lstat(p)
		if err != nil {
			t.Errorf("%s: %v", f.path, err)
			continue
		}
		if fi.Mode() != f.mode {
			t.Errorf("%s: mode %v, want %v", f.path, fi.Mode(), f.mode)
		}
		data, _ := os.ReadFile(p)
		if !strings.Contains(string(data), f.contains) {
			t.Errorf("%s does not contain %q:\n%s", f.path, f.contains, data)
		}
	}
	if id, err := os.ReadFile(filepath.Join(root, "etc/machine-id")); err != nil || len(id) != 0 {
		t.Errorf("/etc/machine-id must be empty so each VM makes its own: %q %v", id, err)
	}
	if fi, err := os.Stat(filepath.Join(root, "root/.ssh")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("/root/.ssh: %v, %v; want mode 0700", fi, err)
	}
	if resolv, _ := os.ReadFile(filepath.Join(root, "etc/resolv.conf")); strings.Contains(string(resolv), "10.0.0.1") {
		t.Error("the build host's resolv.conf is still in the image")
	}
	for _, gone := range []string{"etc/ssh/ssh_host_rsa_key", "etc/ssh/ssh_host_rsa_key.pub", "etc/hostname"} {
		if _, err := os.Lstat(filepath.Join(root, gone)); !os.IsNotExist(err) {
			t.Errorf("%s still in the image (%v)", gone, err)
		}
	}
	// Hard links in extra trees survive (cp -a).
	a, _ := os.Stat(filepath.Join(root, "opt/agents/bin/node"))
	b, _ := os.Stat(filepath.Join(root, "opt/agents/bin/node-link"))
	if a == nil || b == nil || !os.SameFile(a, b) {
		t.Error("hard link in an extra tree became two files")
	}

	links := map[string]string{
		"etc/systemd/system/apt-daily.timer":                                    "/dev/null",
		"etc/systemd/system/apt-daily-upgrade.timer":                            "/dev/null",
		"etc/systemd/network/99-default.link":                                   "/dev/null",
		"etc/systemd/system/getty.target.wants/serial-getty@ttyS0.service":      "/lib/systemd/system/serial-getty@.service",
		"etc/systemd/system/multi-user.target.wants/banger-agent.service":       "/etc/systemd/system/banger-agent.service",
		"etc/systemd/system/multi-user.target.wants/banger-net.service":         "/etc/systemd/system/banger-net.service",
		"etc/systemd/system/ssh.service.wants/banger-ssh-hostkey.service":       "/etc/systemd/system/banger-ssh-hostkey.service",
		"etc/systemd/system/multi-user.target.wants/banger-growfs.service":      "/etc/systemd/system/banger-growfs.service",
		"etc/systemd/system/multi-user.target.wants/banger-ssh-hostkey.service": "/etc/systemd/system/banger-ssh-hostkey.service",
	}
	for name, want := range links {
		if got, err := os.Readlink(filepath.Join(root, name)); err != nil || got != want {
			t.Errorf("%s -> %q (%v), want -> %s", name, got, err, want)
		}
	}
}

func TestCustomizeRootfsHostname(t *testing.T) {
	root := fakeRootfs(t)
	s, err := BootstrapSpec{Mirror: "http://m.example/debian", SSHPublicKey: "k", Hostname: "box"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if err := customizeRootfs(context.Background(), root, s); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(root, "etc/hostname")); string(data) != "box\n" {
		t.Errorf("/etc/hostname = %q, want box", data)
	}
	if _, err := os.Lstat(filepath.Join(root, "etc/systemd/system/banger-agent.service")); !os.IsNotExist(err) {
		t.Errorf("agent unit written without an agent binary (%v)", err)
	}
}
