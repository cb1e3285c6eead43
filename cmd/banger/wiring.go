package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"

	"banger/internal/config"
	"banger/internal/daemon"
	"banger/internal/disk"
	"banger/internal/doctor"
	"banger/internal/hostnet"
	"banger/internal/sshkey"
	"banger/internal/store"
	"banger/internal/vm"
	"banger/internal/vmm"
	"banger/internal/vmm/firecracker"
	"banger/internal/vmm/qemu"
)

// lifecycleDeps builds the VM lifecycle and the image catalog, and
// re-adopts the VMs a previous daemon left running.
func lifecycleDeps(ctx context.Context, cfg config.Config, st *store.Store, net *hostnet.Linux, log *slog.Logger) (daemon.Deps, error) {
	keys, err := sshkey.Ensure(filepath.Join(cfg.StateDir, "ssh"))
	if err != nil {
		return daemon.Deps{}, err
	}
	pub, err := keys.PublicKey()
	if err != nil {
		return daemon.Deps{}, err
	}
	drivers := map[string]vmm.Driver{
		qemu.Name:        qemu.New(qemu.Options{Binary: cfg.VMM.QEMU, Accel: cfg.VMM.Accel, Logger: log.With("driver", qemu.Name)}),
		firecracker.Name: firecracker.New(firecracker.Options{Binary: cfg.VMM.Firecracker, Logger: log.With("driver", firecracker.Name)}),
	}
	driver, accel, why := doctor.ChooseVMM(cfg, doctor.Host())
	log.Info("VMM selected", "driver", driver, "accel", accel, "why", why)
	dns := netip.Addr{}
	if cfg.Network.DNS != "" {
		if dns, err = netip.ParseAddr(cfg.Network.DNS); err != nil {
			return daemon.Deps{}, fmt.Errorf("network.dns: %w", err)
		}
	}
	m := vm.New(vm.Options{
		StateDir: cfg.StateDir, Subnet: cfg.Subnet(), Gateway: cfg.Gateway().Addr(), DNS: dns,
		DefaultDriver: driver,
	}, st, net, diskCloner{}, nil, drivers, log.With("component", "vm")) // ready = guest agent answers
	if err := m.Reconcile(ctx); err != nil {
		log.Error("reconciling VMs at start-up", "err", err)
	}
	return daemon.Deps{
		VMs:        &daemon.Lifecycle{M: m, Defaults: cfg.VM},
		SSHKeyPath: keys.PrivatePath,
		Catalog: &daemon.Catalog{
			Store: st, StateDir: cfg.StateDir, CacheDir: cfg.CacheDir,
			SSHPublicKey: string(pub),
			AgentBinary:  findAgentBinary(),
		},
	}, nil
}

// findAgentBinary locates banger-agent, which goes into every image:
// $BANGER_AGENT, else beside the banger binary, else where
// scripts/quickstart installs it. "" when there is none.
func findAgentBinary() string {
	cands := []string{os.Getenv("BANGER_AGENT")}
	if exe, err := os.Executable(); err == nil {
		cands = append(cands, filepath.Join(filepath.Dir(exe), "banger-agent"))
	}
	cands = append(cands, "/usr/local/lib/banger/banger-agent", "/usr/lib/banger/banger-agent")
	for _, c := range cands {
		if c == "" {
			continue
		}
		if fi, err := os.Stat(c); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return c
		}
	}
	return ""
}

// diskCloner adapts package disk to vm.Disks.
type diskCloner struct{}

func (diskCloner) Clone(ctx context.Context, src, dst string, formats []string, size int64) (string, error) {
	return disk.Clone(ctx, src, dst, formats, size)
}
