// Package doctor tells whether this host can run banger and what to fix.
//
// Every question asked of the host goes through a Probe, so each check's
// branches are unit-tested with a fake; Host() is the real, read-only probe.
// Nothing here changes the host, and nothing can hang: KVM usability is
// decided from /dev/kvm and the loaded modules, never by booting a guest,
// and external commands run under a deadline.
package doctor

import (
	"context"
	"time"

	"banger/internal/config"
)

// Status is the verdict of one check.
type Status string

const (
	// OK: nothing to do.
	OK Status = "ok"
	// Warn: banger runs, but slower, with less isolation, or it will need
	// the fix later (e.g. a directory the daemon will create).
	Warn Status = "warn"
	// Fail: banger cannot work as configured until this is fixed.
	Fail Status = "fail"
)

// Check is one finding. Fix is a command or config change that resolves
// it; it is empty when Status is OK.
type Check struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// Report is the outcome of Run.
type Report struct {
	Checks []Check `json:"checks"`
	// Driver and Accel are what ChooseVMM picked for the config, and Why
	// says why, so that `banger doctor` and the daemon agree.
	Driver string `json:"driver"`
	Accel  string `json:"accel"`
	Why    string `json:"why"`
	// Usable tells, per driver name, whether it can run guests here with
	// the accelerator the config leads to.
	Usable map[string]bool `json:"usable"`
}

// Options tune Run. The zero value probes the real host.
type Options struct {
	// Probe answers the questions; nil means Host().
	Probe Probe
	// CommandTimeout bounds each external command and the nftables query;
	// 0 means 10 seconds.
	CommandTimeout time.Duration
}

// Run performs every check against cfg (which should have passed
// config.Validate). It is read-only and safe to call at any time.
func Run(ctx context.Context, cfg config.Config, opts Options) Report {
	p := opts.Probe
	if p == nil {
		p = Host()
	}
	timeout := opts.CommandTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	r := &runner{cfg: cfg, p: p, timeout: timeout, kvm: DetectKVM(p)}
	r.driver, r.accel, r.why = chooseVMM(cfg, p, r.kvm)
	return r.run(ctx)
}

// VMMUsable reports whether driver can run guests here; "" or "auto" asks
// about the driver ChooseVMM picked.
func (r Report) VMMUsable(driver string) bool {
	if driver == "" || driver == config.Auto {
		driver = r.Driver
	}
	return r.Usable[driver]
}

// ExitCode is 0 when the chosen VMM can run and no check failed, else 1.
func (r Report) ExitCode() int {
	if !r.VMMUsable("") {
		return 1
	}
	for _, c := range r.Checks {
		if c.Status == Fail {
			return 1
		}
	}
	return 0
}

// Check returns the check with the given name.
func (r Report) Check(name string) (Check, bool) {
	for _, c := range r.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return Check{}, false
}
