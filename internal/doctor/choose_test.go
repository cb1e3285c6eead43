package doctor

import (
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"banger/internal/config"
)

func TestChooseVMM(t *testing.T) {
	cases := []struct {
		name         string
		host         func() *fakeProbe
		driver       string
		accel        string
		wantDriver   string
		wantAccel    string
		wantWhyParts []string
	}{
		{"kvm host, auto", healthyHost, "auto", "auto", "firecracker", "kvm", []string{"firecracker found"}},
		{"kvm host, no firecracker", func() *fakeProbe { p := healthyHost(); delete(p.bins, "firecracker"); return p }, "auto", "auto", "qemu", "kvm", []string{"firecracker not found", "accel kvm"}},
		{"pvm host via /sys/module", pvmHost, "auto", "auto", "qemu", "tcg", []string{"PVM"}},
		{"pvm host via /proc/modules, firecracker present", func() *fakeProbe {
			p := healthyHost()
			p.contents[procModules] = "kvm_pvm 98304 0 - Live 0x0\nkvm 1 1 kvm_pvm, Live 0x0\n"
			return p
		}, "auto", "auto", "qemu", "tcg", []string{"KVM unusable", "PVM"}},
		{"no /dev/kvm", func() *fakeProbe { p := healthyHost(); delete(p.files, KVMDevice); return p }, "auto", "auto", "qemu", "tcg", []string{"does not exist"}},
		{"/dev/kvm denied", func() *fakeProbe { p := healthyHost(); p.kvmErr = fs.ErrPermission; return p }, "auto", "auto", "qemu", "tcg", []string{"permission denied"}},
		{"odd KVM API", func() *fakeProbe { p := healthyHost(); p.kvmAPI = 11; return p }, "auto", "auto", "qemu", "tcg", []string{"version 11"}},
		{"explicit qemu on kvm host", healthyHost, "qemu", "auto", "qemu", "kvm", []string{"vmm.driver = qemu"}},
		{"explicit qemu tcg on kvm host", healthyHost, "qemu", "tcg", "qemu", "tcg", []string{"vmm.driver = qemu"}},
		{"auto driver, explicit kvm on pvm host", pvmHost, "auto", "kvm", "qemu", "kvm", []string{"not found"}},
		{"explicit firecracker on pvm host", pvmHost, "firecracker", "auto", "firecracker", "kvm", []string{"vmm.driver = firecracker"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.VMM.Driver, cfg.VMM.Accel = tc.driver, tc.accel
			d, a, why := ChooseVMM(cfg, tc.host())
			if d != tc.wantDriver || a != tc.wantAccel {
				t.Fatalf("ChooseVMM = %s/%s (%s), want %s/%s", d, a, why, tc.wantDriver, tc.wantAccel)
			}
			for _, part := range tc.wantWhyParts {
				if !strings.Contains(why, part) {
					t.Errorf("why %q lacks %q", why, part)
				}
			}
		})
	}
}

func TestDetectKVM(t *testing.T) {
	k := DetectKVM(pvmHost())
	if !k.Present || !k.PVM || k.Usable() || k.APIVersion != kvmAPIVersion {
		t.Fatalf("PVM host: %+v usable=%v", k, k.Usable())
	}
	k = DetectKVM(healthyHost())
	if !k.Usable() || k.PVM {
		t.Fatalf("healthy host: %+v usable=%v", k, k.Usable())
	}
	p := healthyHost()
	p.kvmErr = fmt.Errorf("KVM_GET_API_VERSION: %w", fs.ErrInvalid)
	if k := DetectKVM(p); k.Usable() || !k.Present || !strings.Contains(k.Reason(), "KVM_GET_API_VERSION") {
		t.Fatalf("ioctl failure: %+v reason %q", k, k.Reason())
	}
}
