// Package daemontest starts a real daemon on a temporary socket over an
// in-memory store, for tests of the daemon, the client and the CLI.
package daemontest

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"banger/internal/store"
)

// Store is an in-memory daemon.Store. Like the SQLite store it finds
// objects by id or name, and answers unknown ones with store.ErrNotFound.
type Store struct {
	mu      sync.Mutex
	VMs     []store.VM
	Images  []store.Image
	Kernels []store.Kernel
	Leases  map[string]bool // VM ids holding a lease
}

func find[T any](items []T, key func(*T) (id, name string), idOrName string) int {
	return slices.IndexFunc(items, func(t T) bool {
		id, name := key(&t)
		return id == idOrName || name == idOrName
	})
}

func vmKey(v *store.VM) (string, string)         { return v.ID, v.Name }
func imageKey(i *store.Image) (string, string)   { return i.ID, i.Name }
func kernelKey(k *store.Kernel) (string, string) { return k.ID, k.Name }

func get[T any](s *Store, items []T, key func(*T) (string, string), kind, idOrName string) (*T, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := find(items, key, idOrName)
	if i < 0 {
		return nil, fmt.Errorf("%s %s: %w", kind, idOrName, store.ErrNotFound)
	}
	c := items[i]
	return &c, nil
}

func del[T any](s *Store, items *[]T, key func(*T) (string, string), kind, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(*items, func(t T) bool { tid, _ := key(&t); return tid == id })
	if i < 0 {
		return fmt.Errorf("%s %s: %w", kind, id, store.ErrNotFound)
	}
	*items = slices.Delete(*items, i, i+1)
	return nil
}

func list[T any](s *Store, items []T) []T {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(items)
}

func (s *Store) GetVM(_ context.Context, idOrName string) (*store.VM, error) {
	return get(s, s.VMs, vmKey, "VM", idOrName)
}
func (s *Store) ListVMs(context.Context) ([]store.VM, error) { return list(s, s.VMs), nil }

// DeleteVM drops the VM and its lease, as the real store does in one
// transaction.
func (s *Store) DeleteVM(_ context.Context, id string) error {
	if err := del(s, &s.VMs, vmKey, "VM", id); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.Leases, id)
	return nil
}

func (s *Store) GetImage(_ context.Context, idOrName string) (*store.Image, error) {
	return get(s, s.Images, imageKey, "image", idOrName)
}
func (s *Store) ListImages(context.Context) ([]store.Image, error) { return list(s, s.Images), nil }
func (s *Store) DeleteImage(_ context.Context, id string) error {
	return del(s, &s.Images, imageKey, "image", id)
}

func (s *Store) GetKernel(_ context.Context, idOrName string) (*store.Kernel, error) {
	return get(s, s.Kernels, kernelKey, "kernel", idOrName)
}
func (s *Store) ListKernels(context.Context) ([]store.Kernel, error) {
	return list(s, s.Kernels), nil
}
func (s *Store) DeleteKernel(_ context.Context, id string) error {
	return del(s, &s.Kernels, kernelKey, "kernel", id)
}
