package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

const vmColumns = `id, name, state, coalesce(image_id, ''), coalesce(kernel_id, ''), vcpus, memory_mib,
	disk_size_bytes, vmm, ip, mac, tap, run_dir, runtime, last_error, created_at, updated_at`

func scanVM(r scanner) (VM, error) {
	var vm VM
	var ip, created, updated string
	if err := r.Scan(&vm.ID, &vm.Name, &vm.State, &vm.ImageID, &vm.KernelID, &vm.VCPUs, &vm.MemoryMiB,
		&vm.DiskSizeBytes, &vm.VMM, &ip, &vm.MAC, &vm.Tap, &vm.RunDir, &vm.Runtime, &vm.LastError,
		&created, &updated); err != nil {
		return VM{}, err
	}
	if ip != "" {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			return VM{}, fmt.Errorf("parsing ip of vm %s: %w", vm.ID, err)
		}
		vm.IP = a
	}
	var err error
	if vm.CreatedAt, err = parseTime(created); err != nil {
		return VM{}, err
	}
	if vm.UpdatedAt, err = parseTime(updated); err != nil {
		return VM{}, err
	}
	return vm, nil
}

// vmFieldColumns are the columns a caller sets, in vmFields order.
const vmFieldColumns = `name, state, image_id, kernel_id, vcpus, memory_mib, disk_size_bytes, vmm, ip, mac,
	tap, run_dir, runtime, last_error`

func vmFields(vm *VM) []any {
	return []any{vm.Name, vm.State, nullable(vm.ImageID), nullable(vm.KernelID), vm.VCPUs, vm.MemoryMiB,
		vm.DiskSizeBytes, vm.VMM, addrText(vm.IP), vm.MAC, vm.Tap, vm.RunDir, vm.Runtime, vm.LastError}
}

func addrText(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// checkRefs turns a dangling image or kernel id into a clear ErrNotFound
// (the foreign key alone would not say which one).
func checkRefs(ctx context.Context, tx *sql.Tx, imageID, kernelID string) error {
	for _, ref := range []struct{ what, table, id string }{
		{"image", "images", imageID},
		{"kernel", "kernels", kernelID},
	} {
		if ref.id == "" {
			continue
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM `+ref.table+` WHERE id = ?`, ref.id).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%s %s: %w", ref.what, ref.id, ErrNotFound)
		}
	}
	return nil
}

// CreateVM stores vm, filling vm.ID (when empty; 16 random hex digits),
// vm.CreatedAt and vm.UpdatedAt, and vm.State with VMCreating when empty.
// A name, id, tap or MAC already taken gives ErrConflict; an ImageID or
// KernelID naming no stored image/kernel gives ErrNotFound. Not idempotent:
// a second call with the same name fails with ErrConflict.
//
// The intended order is: CreateVM (state "creating"), then AllocateLease for
// its id, since a lease references its VM.
func (s *Store) CreateVM(ctx context.Context, vm *VM) error {
	if vm.Name == "" {
		return fmt.Errorf("creating vm: empty name")
	}
	id := vm.ID
	if id == "" {
		var err error
		if id, err = newID(); err != nil {
			return err
		}
	}
	state := vm.State
	if state == "" {
		state = VMCreating
	}
	t := now()
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		if err := checkRefs(ctx, tx, vm.ImageID, vm.KernelID); err != nil {
			return err
		}
		v := *vm
		v.State = state
		args := append(vmFields(&v), formatTime(t), id, formatTime(t))
		_, err := tx.ExecContext(ctx, `INSERT INTO vms (`+vmFieldColumns+`, updated_at, id, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
		return err
	})
	switch {
	case errors.Is(err, ErrNotFound):
		return fmt.Errorf("creating vm %s: %w", vm.Name, err)
	case isUnique(err):
		return fmt.Errorf("creating vm %s: name, id, tap or mac taken: %w", vm.Name, ErrConflict)
	case err != nil:
		return s.wrap(err, "creating vm %s", vm.Name)
	}
	vm.ID, vm.State, vm.CreatedAt, vm.UpdatedAt = id, state, t, t
	return nil
}

// GetVM returns the VM whose id, or else name, is idOrName (an exact id
// match wins over a VM named like another VM's id).
func (s *Store) GetVM(ctx context.Context, idOrName string) (*VM, error) {
	return ptr(queryOne(ctx, s, scanVM, "getting vm "+idOrName,
		`SELECT `+vmColumns+` FROM vms WHERE id = ?1 OR name = ?1 ORDER BY id = ?1 DESC LIMIT 1`, idOrName))
}

// ListVMs returns every VM, ordered by name.
func (s *Store) ListVMs(ctx context.Context) ([]VM, error) {
	return queryAll(ctx, s, scanVM, "listing vms", `SELECT `+vmColumns+` FROM vms ORDER BY name`)
}

// UpdateVM overwrites every field of the stored VM vm.ID except ID and
// CreatedAt, and sets vm.UpdatedAt. Idempotent in effect (same values, new
// UpdatedAt). A VM that is gone gives ErrNotFound; a rename onto a taken
// name (or a taken tap/MAC) gives ErrConflict; a dangling ImageID/KernelID
// gives ErrNotFound. The lease is not touched: copy the address from
// AllocateLease into vm.IP yourself.
func (s *Store) UpdateVM(ctx context.Context, vm *VM) error {
	if vm.ID == "" {
		return fmt.Errorf("updating vm %s: empty id: %w", vm.Name, ErrNotFound)
	}
	t := now()
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		if err := checkRefs(ctx, tx, vm.ImageID, vm.KernelID); err != nil {
			return err
		}
		set := strings.ReplaceAll(vmFieldColumns, ",", " = ?,") + " = ?, updated_at = ?"
		res, err := tx.ExecContext(ctx, `UPDATE vms SET `+set+` WHERE id = ?`,
			append(vmFields(vm), formatTime(t), vm.ID)...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("vm %s: %w", vm.ID, ErrNotFound)
		}
		return nil
	})
	switch {
	case errors.Is(err, ErrNotFound):
		return fmt.Errorf("updating vm %s: %w", vm.Name, err)
	case isUnique(err):
		return fmt.Errorf("updating vm %s: name, tap or mac taken: %w", vm.Name, ErrConflict)
	case err != nil:
		return s.wrap(err, "updating vm %s", vm.ID)
	}
	vm.UpdatedAt = t
	return nil
}

// DeleteVM removes the VM with this id and releases its lease, in one
// transaction. Not idempotent: an absent VM gives ErrNotFound (callers
// tearing down may treat that as success). Host objects owned by the VM are
// not touched: they are forgotten by whoever removes them from the host.
func (s *Store) DeleteVM(ctx context.Context, id string) error {
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM leases WHERE vm_id = ?`, id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM vms WHERE id = ?`, id)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return ErrNotFound
		}
		return nil
	})
	return s.wrap(err, "deleting vm %s", id)
}
