//go:build !linux

package doctor

import (
	"context"
	"errors"
	"os/exec"
)

// HostProbe is the real Probe; banger's host side runs on Linux only, so
// elsewhere it answers every question with errors.ErrUnsupported.
type HostProbe struct{ NetNSPath string }

var _ Probe = (*HostProbe)(nil)

// Host returns the real probe.
func Host() *HostProbe { return &HostProbe{} }

func (*HostProbe) LookPath(name string) (string, error) { return exec.LookPath(name) }
func (*HostProbe) Stat(string) (FileInfo, error)        { return FileInfo{}, errors.ErrUnsupported }
func (*HostProbe) ReadFile(string) ([]byte, error)      { return nil, errors.ErrUnsupported }
func (*HostProbe) OpenKVM(string) (int, error)          { return 0, errors.ErrUnsupported }
func (*HostProbe) FreeBytes(string) (uint64, error)     { return 0, errors.ErrUnsupported }
func (*HostProbe) Version(context.Context, string) (string, error) {
	return "", errors.ErrUnsupported
}
func (*HostProbe) NFTables(context.Context) ([]string, error) { return nil, errors.ErrUnsupported }
