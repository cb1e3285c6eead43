package vm

import (
	"context"
	"errors"
	"fmt"

	"banger/internal/record"
	"banger/internal/vmm"
)

// Reconcile runs once when a daemon starts. It re-adopts VMs whose VMM
// process still runs, marks dead ones stopped and releases their taps, and
// rolls back VMs left half-created by a daemon that died mid-create.
// It only touches what the store records. Safe to run repeatedly.
func (m *Manager) Reconcile(ctx context.Context) error {
	vms, err := m.store.ListVMs(ctx)
	if err != nil {
		return fmt.Errorf("listing VMs: %w", err)
	}
	var errs []error
	for i := range vms {
		v := &vms[i]
		log := m.log.With("vm", v.Name, "id", v.ID)
		inst := m.adopt(ctx, v)
		switch {
		case v.State == record.VMCreating:
			log.Info("rolling back a VM left half-created")
			if err := m.halt(ctx, v, inst, false); err != nil {
				errs = append(errs, err)
				continue
			}
			errs = append(errs, m.destroy(ctx, v))
		case inst != nil:
			log.Info("re-adopted running VM", "pid", inst.State().PID)
			m.setInstance(v.ID, inst)
			go m.watch(v.ID, inst)
		case v.State == record.VMRunning || v.Runtime != nil:
			log.Info("VM process is gone: marking stopped")
			if err := m.halt(ctx, v, nil, false); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// adopt returns the live instance of v's recorded runtime, or nil.
func (m *Manager) adopt(ctx context.Context, v *record.VM) vmm.Instance {
	st, ok := Runtime(v)
	if !ok {
		return nil
	}
	drv, err := m.driver(st.Driver)
	if err != nil {
		return nil
	}
	inst, err := drv.Attach(ctx, st)
	if err != nil {
		if !errors.Is(err, vmm.ErrNotRunning) {
			m.log.Warn("re-adopting VM", "vm", v.Name, "err", err)
		}
		return nil
	}
	return inst
}
