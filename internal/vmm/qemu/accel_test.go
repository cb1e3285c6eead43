package qemu

import (
	"errors"
	"testing"

	"banger/internal/vmm"
)

type fakeProbe struct{ pvm, kvm bool }

func (f fakeProbe) PVMHost() bool   { return f.pvm }
func (f fakeProbe) KVMUsable() bool { return f.kvm }

func TestChooseAccel(t *testing.T) {
	cases := []struct {
		setting  string
		probe    fakeProbe
		want     string
		wantFail bool
	}{
		{"auto", fakeProbe{pvm: false, kvm: true}, AccelKVM, false},
		{"", fakeProbe{pvm: false, kvm: true}, AccelKVM, false},
		{"auto", fakeProbe{pvm: true, kvm: true}, AccelTCG, false}, // the test machines
		{"auto", fakeProbe{pvm: false, kvm: false}, AccelTCG, false},
		{"tcg", fakeProbe{pvm: false, kvm: true}, AccelTCG, false},
		{"kvm", fakeProbe{pvm: false, kvm: true}, AccelKVM, false},
		{"kvm", fakeProbe{pvm: false, kvm: false}, "", true},
		{"kvm", fakeProbe{pvm: true, kvm: true}, "", true},
		{"hvf", fakeProbe{pvm: false, kvm: true}, "", true},
	}
	for _, c := range cases {
		got, err := ChooseAccel(c.setting, c.probe)
		if c.wantFail {
			if !errors.Is(err, vmm.ErrUnavailable) {
				t.Errorf("ChooseAccel(%q, %+v) error = %v, want ErrUnavailable", c.setting, c.probe, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ChooseAccel(%q, %+v) = %q, %v; want %q", c.setting, c.probe, got, err, c.want)
		}
	}
}

// TestAvailableUsesProbe: Available reports an explicit kvm on a PVM host
// as unavailable, without starting anything.
func TestAvailableUsesProbe(t *testing.T) {
	d := New(Options{Binary: "sh", Accel: AccelKVM, Probe: fakeProbe{pvm: true, kvm: true}})
	if err := d.Available(t.Context()); !errors.Is(err, vmm.ErrUnavailable) {
		t.Fatalf("Available = %v, want ErrUnavailable", err)
	}
	d = New(Options{Binary: "sh", Accel: AccelAuto, Probe: fakeProbe{pvm: true, kvm: true}})
	if err := d.Available(t.Context()); err != nil {
		t.Fatalf("Available(auto on PVM) = %v, want nil (falls back to tcg)", err)
	}
	d = New(Options{Binary: "no-such-qemu-binary", Probe: fakeProbe{}})
	if err := d.Available(t.Context()); !errors.Is(err, vmm.ErrUnavailable) {
		t.Fatalf("Available(missing binary) = %v, want ErrUnavailable", err)
	}
}
