package hostnet

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
)

// Fake is an in-memory Network for tests of code that uses one (the VM
// lifecycle, the daemon). It keeps the same contract as Linux, as strictly:
// it records before it "creates" and forgets after it "removes", EnsureTap
// needs the bridge, names banger did not record are ErrForeign, and
// Teardown removes only what was recorded. Fail injects errors.
type Fake struct {
	Rec Recorder
	cfg Config
	// Fail, if set, is asked before each method (by name, e.g. "EnsureTap");
	// a non-nil error is returned and nothing changes.
	Fail func(method, name string) error

	mu       sync.Mutex
	bridge   bool
	firewall bool
	taps     map[string]string // name -> owner
	foreign  map[string]bool   // "kind/name" of objects banger did not make
}

var _ Network = (*Fake)(nil)

// NewFake returns a Fake for cfg (only the bridge and table names are
// used) recording through rec (a MemRecorder if nil).
func NewFake(cfg Config, rec Recorder) *Fake {
	if rec == nil {
		rec = &MemRecorder{}
	}
	return &Fake{Rec: rec, cfg: cfg, taps: map[string]string{}, foreign: map[string]bool{}}
}

// AddForeign makes an object of kind and name exist without banger
// recording it, as if someone else had created it.
func (f *Fake) AddForeign(kind, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.foreign[kind+"/"+name] = true
}

// State reports what exists: the bridge, the firewall table and the taps
// (name -> owner) banger made.
func (f *Fake) State() (bridge, firewall bool, taps map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.bridge, f.firewall, maps.Clone(f.taps)
}

// checkTapName enforces the kernel's limit on interface names.
func checkTapName(name string) error {
	if name == "" || len(name) > maxIfName {
		return fmt.Errorf("tap name %q: must be 1 to %d characters", name, maxIfName)
	}
	return nil
}

// maxIfName is the longest interface name (IFNAMSIZ less the NUL).
const maxIfName = 15

func (f *Fake) fail(method, name string) error {
	if f.Fail == nil {
		return nil
	}
	return f.Fail(method, name)
}

func (f *Fake) checkForeign(kind, name string) error {
	if f.foreign[kind+"/"+name] {
		return fmt.Errorf("%s %s: %w", kind, name, ErrForeign)
	}
	return nil
}

// EnsureBridge: idempotent; ErrForeign if the bridge was added as foreign.
func (f *Fake) EnsureBridge(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := errors.Join(f.fail("EnsureBridge", ""), f.checkForeign(KindBridge, f.cfg.Bridge)); err != nil {
		return err
	}
	if !f.bridge {
		if err := f.Rec.Record(ctx, Object{Kind: KindBridge, Name: f.cfg.Bridge}); err != nil {
			return fmt.Errorf("recording bridge: %w", err)
		}
		f.bridge = true
	}
	return nil
}

// EnsureFirewall: idempotent.
func (f *Fake) EnsureFirewall(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail("EnsureFirewall", ""); err != nil {
		return err
	}
	if err := f.Rec.Record(ctx, Object{Kind: KindTable, Name: f.cfg.Table}); err != nil {
		return fmt.Errorf("recording table: %w", err)
	}
	f.firewall = true
	return nil
}

// EnsureTap: idempotent; needs the bridge; ErrForeign for a foreign tap,
// ErrOtherOwner for a tap of another VM.
func (f *Fake) EnsureTap(ctx context.Context, name, owner string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := errors.Join(checkTapName(name), f.fail("EnsureTap", name), f.checkForeign(KindTap, name)); err != nil {
		return err
	}
	if !f.bridge {
		return fmt.Errorf("attaching tap %s: bridge does not exist (EnsureBridge first)", name)
	}
	if o, ok := f.taps[name]; ok && o != owner {
		return fmt.Errorf("tap %s: recorded for VM %s, not %s: %w", name, o, owner, ErrOtherOwner)
	}
	if _, ok := f.taps[name]; !ok {
		if err := f.Rec.Record(ctx, Object{Kind: KindTap, Name: name, Owner: owner}); err != nil {
			return fmt.Errorf("recording tap %s: %w", name, err)
		}
		f.taps[name] = owner
	}
	return nil
}

// DeleteTap: idempotent; a foreign tap is left and reported as ErrForeign.
func (f *Fake) DeleteTap(ctx context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := errors.Join(f.fail("DeleteTap", name), f.checkForeign(KindTap, name)); err != nil {
		return err
	}
	delete(f.taps, name)
	return f.Rec.Forget(ctx, KindTap, name)
}

// Teardown removes what is recorded, in the same order as Linux.
func (f *Fake) Teardown(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail("Teardown", ""); err != nil {
		return err
	}
	objs, err := f.Rec.Objects(ctx)
	if err != nil {
		return fmt.Errorf("listing recorded host objects: %w", err)
	}
	for _, kind := range teardownOrder {
		for _, o := range objs {
			if o.Kind != kind {
				continue
			}
			switch kind {
			case KindTap:
				delete(f.taps, o.Name)
			case KindTable:
				f.firewall = false
			case KindBridge:
				f.bridge = false
			}
			if err := f.Rec.Forget(ctx, o.Kind, o.Name); err != nil {
				return fmt.Errorf("forgetting %s %s: %w", o.Kind, o.Name, err)
			}
		}
	}
	return nil
}
