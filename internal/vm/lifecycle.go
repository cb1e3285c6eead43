package vm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"banger/internal/record"
	"banger/internal/vmm"
)

// Start boots a stopped VM from its existing disks.
func (m *Manager) Start(ctx context.Context, name string) (*record.VM, error) {
	v, err := m.store.GetVM(ctx, name)
	if err != nil {
		return nil, err
	}
	unlock, err := m.lock(v.ID)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if v.State == record.VMRunning && m.instance(v.ID) != nil {
		return v, nil // idempotent
	}
	if v.State == record.VMCreating {
		return nil, fmt.Errorf("%w: VM %s is still being created", ErrState, v.Name)
	}
	drv, err := m.driver(v.VMM)
	if err != nil {
		return nil, err
	}
	if err := drv.Available(ctx); err != nil {
		return nil, fmt.Errorf("VMM %s cannot run here: %w", drv.Name(), err)
	}
	kern, err := m.store.GetKernel(ctx, v.KernelID)
	if err != nil {
		return nil, fmt.Errorf("kernel of VM %s: %w", v.Name, err)
	}
	root := filepath.Join(v.RunDir, "root.img")
	format, err := diskFormat(root)
	if err != nil {
		return nil, err
	}
	if _, err := m.boot(ctx, drv, v, kern, vmm.Disk{Path: root, Format: format}); err != nil {
		m.markStopped(context.WithoutCancel(ctx), v, err.Error())
		return nil, fmt.Errorf("starting VM %s: %w", v.Name, err)
	}
	return v, nil
}

// Stop shuts a VM down gracefully, killing it after the stop timeout.
// Idempotent: stopping a stopped VM returns it unchanged.
func (m *Manager) Stop(ctx context.Context, name string) (*record.VM, error) {
	return m.end(ctx, name, true)
}

// Kill ends a VM's VMM process at once. Idempotent.
func (m *Manager) Kill(ctx context.Context, name string) (*record.VM, error) {
	return m.end(ctx, name, false)
}

func (m *Manager) end(ctx context.Context, name string, graceful bool) (*record.VM, error) {
	v, err := m.store.GetVM(ctx, name)
	if err != nil {
		return nil, err
	}
	unlock, err := m.lock(v.ID)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := m.halt(ctx, v, m.instance(v.ID), graceful); err != nil {
		return nil, err
	}
	return v, nil
}

// halt ends the instance (if any), removes the tap and records the VM as
// stopped. Every part is idempotent, so it is also the rollback of boot.
func (m *Manager) halt(ctx context.Context, v *record.VM, inst vmm.Instance, graceful bool) error {
	var errs []error
	m.dropAgent(v.ID)
	if inst != nil {
		if graceful {
			sctx, cancel := context.WithTimeout(ctx, m.opts.StopTimeout)
			err := inst.Shutdown(sctx)
			cancel()
			if err != nil {
				errs = append(errs, fmt.Errorf("shutting down: %w", err))
			}
		}
		if err := inst.Kill(ctx); err != nil {
			errs = append(errs, fmt.Errorf("killing: %w", err))
		}
		m.setInstance(v.ID, nil)
	}
	if v.Tap != "" {
		if err := m.net.DeleteTap(ctx, v.Tap); err != nil {
			errs = append(errs, fmt.Errorf("deleting tap %s: %w", v.Tap, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if v.State != record.VMCreating {
		v.State = record.VMStopped
	}
	v.Runtime = nil
	if err := m.store.UpdateVM(ctx, v); err != nil && !errors.Is(err, record.ErrNotFound) {
		return err
	}
	return nil
}

// watch marks a VM stopped when its VMM process ends on its own (guest
// poweroff, crash) and releases its tap.
func (m *Manager) watch(id string, inst vmm.Instance) {
	ctx := context.Background()
	_ = inst.Wait(ctx)
	unlock, err := m.lock(id)
	if err != nil {
		return // a stop/kill/rm in flight owns the VM and cleans up
	}
	defer unlock()
	if m.instance(id) != inst {
		return
	}
	v, err := m.store.GetVM(ctx, id)
	if err != nil {
		return
	}
	m.log.Info("VM process ended", "vm", v.Name, "id", id)
	if err := m.halt(ctx, v, inst, false); err != nil {
		m.log.Error("cleaning up after VM exit", "vm", v.Name, "err", err)
	}
}

func (m *Manager) markStopped(ctx context.Context, v *record.VM, lastErr string) {
	v.State, v.Runtime, v.LastError = record.VMStopped, nil, lastErr
	if err := m.store.UpdateVM(ctx, v); err != nil {
		m.log.Error("recording VM stopped", "vm", v.Name, "err", err)
	}
}

// Remove deletes a VM and everything it holds: process (only with force
// when running), tap, disks, lease, row.
func (m *Manager) Remove(ctx context.Context, name string, force bool) error {
	v, err := m.store.GetVM(ctx, name)
	if err != nil {
		return err
	}
	unlock, err := m.lock(v.ID)
	if err != nil {
		return err
	}
	defer unlock()
	inst := m.instance(v.ID)
	if inst != nil && inst.Running() && !force {
		return fmt.Errorf("%w: VM %s is running: stop it first or use --force", ErrState, v.Name)
	}
	if err := m.halt(ctx, v, inst, false); err != nil {
		return err
	}
	return m.destroy(ctx, v)
}

// destroy removes the VM's files, lease and row. Idempotent.
func (m *Manager) destroy(ctx context.Context, v *record.VM) error {
	if v.RunDir != "" {
		if err := os.RemoveAll(v.RunDir); err != nil {
			return fmt.Errorf("removing %s: %w", v.RunDir, err)
		}
	}
	if err := m.store.ReleaseLease(ctx, v.ID); err != nil {
		return err
	}
	if err := m.store.DeleteVM(ctx, v.ID); err != nil && !errors.Is(err, record.ErrNotFound) {
		return err
	}
	return nil
}

// Get returns a VM by id or name.
func (m *Manager) Get(ctx context.Context, name string) (*record.VM, error) {
	return m.store.GetVM(ctx, name)
}

// List returns all VMs.
func (m *Manager) List(ctx context.Context) ([]record.VM, error) {
	return m.store.ListVMs(ctx)
}

// Runtime decodes a VM's recorded VMM state; ok is false when not running.
func Runtime(v *record.VM) (st vmm.State, ok bool) {
	if len(v.Runtime) == 0 {
		return st, false
	}
	return st, json.Unmarshal(v.Runtime, &st) == nil
}

// ConsoleLog is the path of a VM's serial console log.
func ConsoleLog(v *record.VM) string { return filepath.Join(v.RunDir, "console.log") }

var qcow2Magic = []byte{'Q', 'F', 'I', 0xfb}

func diskFormat(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("opening root disk: %w", err)
	}
	defer f.Close()
	head := make([]byte, 4)
	if _, err := f.Read(head); err != nil {
		return "", fmt.Errorf("reading root disk %s: %w", path, err)
	}
	if bytes.Equal(head, qcow2Magic) {
		return vmm.FormatQcow2, nil
	}
	return vmm.FormatRaw, nil
}
