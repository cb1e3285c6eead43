package qemu

import (
	"os"
	"path/filepath"
	"testing"
)

func TestHostTSCkHz(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	vm := write("vm", "processor\t: 0\ncpu MHz\t\t: 2596.096\nflags\t\t: fpu tsc constant_tsc nonstop_tsc tsc_known_freq\n")
	old := write("old", "cpu MHz\t\t: 2596.096\nflags\t\t: fpu tsc\n")
	noFreq := filepath.Join(dir, "no-cpufreq")
	if khz, ok := hostTSCkHz(vm, noFreq); !ok || khz != 2596096 {
		t.Fatalf("invariant TSC: %d %v", khz, ok)
	}
	if _, ok := hostTSCkHz(old, noFreq); ok {
		t.Fatal("a TSC without constant_tsc/nonstop_tsc must not be pinned")
	}
	// With a cpufreq driver "cpu MHz" is the core clock, unless the TSC
	// frequency is known.
	cpufreq := t.TempDir()
	if _, ok := hostTSCkHz(vm, cpufreq); !ok {
		t.Fatal("tsc_known_freq: frequency should be used")
	}
	varying := write("varying", "cpu MHz\t\t: 1200.000\nflags\t\t: tsc constant_tsc nonstop_tsc\n")
	if _, ok := hostTSCkHz(varying, cpufreq); ok {
		t.Fatal("core clock under cpufreq taken for the TSC")
	}
}
