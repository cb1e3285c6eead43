package qemu

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Under TCG the guest's TSC is the host's (QEMU reads the host counter), but
// microvm offers the guest no HPET or ACPI PM timer to calibrate it against,
// and the PIT calibration is a timing loop that fails when the host is busy:
// the guest then logs "tsc: Unable to calibrate against PIT ... Marking TSC
// unstable" and hangs at boot with no usable clocksource (seen on the test
// machines with two VMs booting at once). Telling the kernel the frequency
// (tsc_early_khz, Linux >= 5.x) skips that calibration.

// tcgClockArgs returns the kernel arguments that pin the guest's TSC
// frequency to the host's, or "" when the host's is not known to be fixed.
func tcgClockArgs() string {
	khz, ok := hostTSCkHz("/proc/cpuinfo", "/sys/devices/system/cpu/cpufreq")
	if !ok {
		return ""
	}
	return fmt.Sprintf("tsc_early_khz=%d", khz)
}

// hostTSCkHz reads the TSC frequency from cpuinfo's "cpu MHz". That field
// is the TSC frequency only when the TSC is invariant and no cpufreq driver
// reports a varying core clock instead (as in VMs and with tsc_known_freq).
func hostTSCkHz(cpuinfo, cpufreqDir string) (int, bool) {
	f, err := os.Open(cpuinfo)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	var mhz float64
	var constant, known bool
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "cpu MHz":
			if mhz == 0 {
				mhz, _ = strconv.ParseFloat(strings.TrimSpace(v), 64)
			}
		case "flags":
			fl := " " + v + " "
			constant = strings.Contains(fl, " constant_tsc ") && strings.Contains(fl, " nonstop_tsc ")
			known = strings.Contains(fl, " tsc_known_freq ")
		}
		if mhz != 0 && constant {
			break
		}
	}
	if mhz <= 0 || !constant {
		return 0, false
	}
	if _, err := os.Stat(cpufreqDir); err == nil && !known {
		return 0, false
	}
	return int(mhz * 1000), true
}
