package daemon

import (
	"context"
	"fmt"
	"net/http"

	"banger/internal/api"
	"banger/internal/store"
)

// StoreVMs is the VMService of a daemon that cannot boot VMs yet: it lists,
// shows and removes store rows. No VM can be running under it, but Remove
// still refuses running ones so the rule holds when the lifecycle lands.
type StoreVMs struct {
	Store Store
}

var _ VMService = (*StoreVMs)(nil)

func (s *StoreVMs) List(ctx context.Context) ([]store.VM, error) {
	vms, err := s.Store.ListVMs(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing VMs: %w", err)
	}
	return vms, nil
}

func (s *StoreVMs) Get(ctx context.Context, idOrName string) (*store.VM, error) {
	vm, err := s.Store.GetVM(ctx, idOrName)
	if err != nil {
		return nil, fmt.Errorf("getting VM %s: %w", idOrName, err)
	}
	return vm, nil
}

// Create always fails: booting needs the VM lifecycle (internal/vm).
func (s *StoreVMs) Create(ctx context.Context, req api.CreateVMRequest) (*store.VM, error) {
	return nil, &api.Error{
		Code:    api.CodeUnavailable,
		Status:  http.StatusNotImplemented,
		Message: "VM creation is not available yet",
		Hint:    "this banger build cannot boot VMs; upgrade banger to one that can",
	}
}

// Remove deletes the VM's row, and with it its lease (Store.DeleteVM).
func (s *StoreVMs) Remove(ctx context.Context, idOrName string, force bool) error {
	vm, err := s.Store.GetVM(ctx, idOrName)
	if err != nil {
		return fmt.Errorf("getting VM %s: %w", idOrName, err)
	}
	if vm.State == store.VMRunning && !force {
		return fmt.Errorf("removing VM %s: %w", vm.Name, ErrVMRunning)
	}
	if err := s.Store.DeleteVM(ctx, vm.ID); err != nil {
		return fmt.Errorf("deleting VM %s: %w", vm.Name, err)
	}
	return nil
}
