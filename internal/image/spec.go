package image

import (
	"banger/internal/agent/assets"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
)

// FormatVersion changes whenever the customisation of the image changes,
// so images built by an older banger get a different InputHash.
const FormatVersion = "banger-image-3"

// DefaultSuite is the Debian release bootstrapped when the spec names none.
const DefaultSuite = "bookworm"

// DefaultSizeBytes is the root image size when the spec gives none.
const DefaultSizeBytes int64 = 2 << 30

// BasePackages are always installed (debootstrap --include) on top of the
// minbase variant: init, SSH, networking tools, module loading, and
// e2fsprogs for the first-boot growth of the root filesystem.
var BasePackages = []string{
	"systemd-sysv", "udev", "kmod", "openssh-server", "iproute2",
	"ca-certificates", "e2fsprogs", "procps",
}

// BootstrapSpec describes a root image. Everything in it affects the
// output and so InputHash.
type BootstrapSpec struct {
	Suite    string   // Debian suite; default DefaultSuite
	Mirror   string   // archive URL; default HostMirror(Suite)
	Packages []string // installed on top of BasePackages
	// SSHPublicKey is the authorized_keys line for root (required).
	SSHPublicKey string
	// AgentBinary is an optional host path to banger-agent, installed as
	// /usr/local/bin/banger-agent with its systemd unit and modules-load
	// list (internal/agent/assets).
	AgentBinary string
	// Hostname is written to /etc/hostname when set. Left "", the image has
	// no /etc/hostname and the guest keeps the name the kernel's ip=
	// argument gives it.
	Hostname   string
	SizeBytes  int64 // image size; default DefaultSizeBytes
	ExtraFiles []ExtraFile
}

// ExtraFile is a host file or directory copied into the image.
type ExtraFile struct {
	Source string // host path; a directory is copied whole (cp -a)
	Dest   string // absolute path in the image
	// Mode is applied to a copied regular file when non-zero.
	Mode fs.FileMode
}

// withDefaults fills the defaults and checks the spec.
func (s BootstrapSpec) withDefaults() (BootstrapSpec, error) {
	if s.Suite == "" {
		s.Suite = DefaultSuite
	}
	if s.SizeBytes == 0 {
		s.SizeBytes = DefaultSizeBytes
	}
	if strings.TrimSpace(s.SSHPublicKey) == "" {
		return s, errors.New("bootstrap spec: no SSH public key")
	}
	if strings.ContainsAny(s.Hostname, " /\n") {
		return s, fmt.Errorf("bootstrap spec: invalid hostname %q", s.Hostname)
	}
	for _, e := range s.ExtraFiles {
		if !filepath.IsAbs(e.Dest) || filepath.Clean(e.Dest) == "/" {
			return s, fmt.Errorf("bootstrap spec: extra file destination %q is not an absolute path below /", e.Dest)
		}
	}
	if s.Mirror == "" {
		m, err := HostMirror(s.Suite)
		if err != nil {
			return s, err
		}
		s.Mirror = m
	}
	return s, nil
}

// debianArch is the Debian name of the host architecture.
func debianArch() string {
	if runtime.GOARCH == "386" {
		return "i386"
	}
	return runtime.GOARCH // amd64, arm64, riscv64, ...
}

// includes is the sorted, de-duplicated package list given to debootstrap.
func (s BootstrapSpec) includes() []string {
	p := append(slices.Clone(BasePackages), s.Packages...)
	slices.Sort(p)
	return slices.Compact(p)
}

// debootstrapKey is the cache key of the debootstrap step alone.
func (s BootstrapSpec) debootstrapKey() string {
	h := sha256.New()
	fmt.Fprintf(h, "debootstrap-1\nsuite=%s\nmirror=%s\narch=%s\ninclude=%s\n",
		s.Suite, s.Mirror, debianArch(), strings.Join(s.includes(), ","))
	return hex.EncodeToString(h.Sum(nil))
}

// InputHash returns the sha256 (hex) of everything that affects the image
// Bootstrap builds from spec: FormatVersion, suite, mirror (the host's when
// spec has none), architecture, package list, SSH key, agent binary
// contents and arguments, hostname, size and extra files (contents
// included). Equal hashes mean an existing image can be reused.
func InputHash(spec BootstrapSpec) (string, error) {
	s, err := spec.withDefaults()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "format=%s\ndebootstrap=%s\nkey=%s\nhostname=%s\nsize=%d\n",
		FormatVersion, s.debootstrapKey(), strings.TrimSpace(s.SSHPublicKey), s.Hostname, s.SizeBytes)
	if s.AgentBinary != "" {
		fmt.Fprint(h, "agent=")
		if err := hashPath(h, s.AgentBinary); err != nil {
			return "", err
		}
		for _, f := range assets.Files() {
			fmt.Fprintf(h, "asset=%s mode=%o len=%d\n%s", f.Path, f.Mode, len(f.Content), f.Content)
		}
	}
	for _, e := range s.ExtraFiles {
		fmt.Fprintf(h, "extra=%s mode=%o\n", filepath.Clean(e.Dest), e.Mode)
		if err := hashPath(h, e.Source); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// hashPath writes into h the names, types, modes, symlink targets and
// contents of the file or tree at root, in walk order.
func hashPath(h hash.Hash, root string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("hashing %s: %w", root, err)
		}
		fi, err := d.Info()
		if err != nil {
			return fmt.Errorf("hashing %s: %w", p, err)
		}
		rel, _ := filepath.Rel(root, p)
		fmt.Fprintf(h, "%q %v\n", rel, fi.Mode())
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return fmt.Errorf("hashing %s: %w", p, err)
			}
			fmt.Fprintf(h, "-> %q\n", link)
		case fi.Mode().IsRegular():
			f, err := os.Open(p)
			if err != nil {
				return fmt.Errorf("hashing %s: %w", p, err)
			}
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return fmt.Errorf("hashing %s: %w", p, err)
			}
		}
		return nil
	})
}
