// Package assets holds the files the image builder installs in a guest
// next to the banger-agent binary.
package assets

import _ "embed"

// Install paths inside the guest root filesystem.
const (
	AgentBinaryPath = "/usr/local/bin/banger-agent"
	UnitPath        = "/etc/systemd/system/banger-agent.service"
	// UnitWantsLink enables the unit without running systemctl in the image.
	UnitWantsLink   = "/etc/systemd/system/multi-user.target.wants/banger-agent.service"
	ModulesLoadPath = "/etc/modules-load.d/banger-agent.conf"
)

// Unit is the systemd unit: Restart=always, KillMode=process so sessions'
// supervisors survive an agent restart.
//
//go:embed banger-agent.service
var Unit []byte

// ModulesLoad is the modules-load.d list (virtio_console, vsock,
// vmw_vsock_virtio_transport).
//
//go:embed banger-agent.conf
var ModulesLoad []byte

// File is one file to install.
type File struct {
	Path    string
	Mode    uint32
	Content []byte
}

// Files lists the files above with their install paths and modes (the
// binary and the wants symlink are the builder's to install).
func Files() []File {
	return []File{
		{Path: UnitPath, Mode: 0o644, Content: Unit},
		{Path: ModulesLoadPath, Mode: 0o644, Content: ModulesLoad},
	}
}
