package store

import "banger/internal/record"

// The store persists the records of package record; these aliases keep
// store.VM, store.ErrNotFound and friends working for its callers.
type (
	Kernel     = record.Kernel
	Image      = record.Image
	VM         = record.VM
	Lease      = record.Lease
	HostObject = record.HostObject
)

// Sentinel errors, the same values as package record's.
var (
	ErrNotFound  = record.ErrNotFound
	ErrConflict  = record.ErrConflict
	ErrExhausted = record.ErrExhausted
)

// VM states.
const (
	VMCreating = record.VMCreating
	VMRunning  = record.VMRunning
	VMStopped  = record.VMStopped
	VMError    = record.VMError
)
