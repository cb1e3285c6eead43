package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"slices"
)

// AllocateLease gives VM vmID the lowest free host address of subnet (an
// IPv4 prefix), skipping the network and broadcast addresses and every
// reserved address (the gateway). It runs in one BEGIN IMMEDIATE
// transaction, so concurrent callers, in this process or others, never get
// the same address.
//
// Idempotent per VM: if vmID already holds a lease, that address is returned
// unchanged (even if it lies outside subnet). The VM row must exist (create
// it in state "creating" first): an unknown vmID gives ErrNotFound. A full
// subnet gives ErrExhausted. The VM row's IP field is not written.
func (s *Store) AllocateLease(ctx context.Context, vmID string, subnet netip.Prefix, reserved ...netip.Addr) (netip.Addr, error) {
	first, last, err := hostRange(subnet)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("allocating address for vm %s: %w", vmID, err)
	}
	var got netip.Addr
	err = s.withTx(ctx, func(tx *sql.Tx) error {
		var held string
		err := tx.QueryRowContext(ctx, `SELECT addr FROM leases WHERE vm_id = ?`, vmID).Scan(&held)
		if err == nil {
			got, err = netip.ParseAddr(held)
			return err
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM vms WHERE id = ?`, vmID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("vm %s: %w", vmID, ErrNotFound)
		}
		used, err := leasedAddrs(ctx, tx)
		if err != nil {
			return err
		}
		for _, r := range reserved {
			used[r.Unmap()] = true
		}
		for a := first; ; a = a.Next() {
			if !used[a] {
				got = a
				break
			}
			if a == last {
				return fmt.Errorf("subnet %s: %w", subnet, ErrExhausted)
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO leases (addr, vm_id, created_at) VALUES (?, ?, ?)`,
			got.String(), vmID, formatTime(now()))
		return err
	})
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrExhausted) {
		return netip.Addr{}, fmt.Errorf("allocating address for vm %s: %w", vmID, err)
	}
	if err != nil {
		return netip.Addr{}, s.wrap(err, "allocating address for vm %s", vmID)
	}
	return got, nil
}

// hostRange returns the first and last host address of an IPv4 subnet:
// everything but the network and broadcast addresses.
func hostRange(subnet netip.Prefix) (first, last netip.Addr, err error) {
	if !subnet.IsValid() || !subnet.Addr().Is4() {
		return first, last, fmt.Errorf("subnet %s: want an IPv4 prefix", subnet)
	}
	subnet = subnet.Masked()
	if subnet.Bits() > 30 {
		return first, last, fmt.Errorf("subnet %s: no host addresses: %w", subnet, ErrExhausted)
	}
	b := subnet.Addr().As4()
	n := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	bcast := n | (1<<(32-subnet.Bits()) - 1)
	return u32Addr(n + 1), u32Addr(bcast - 1), nil
}

func u32Addr(n uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}

func leasedAddrs(ctx context.Context, tx *sql.Tx) (map[netip.Addr]bool, error) {
	rows, err := tx.QueryContext(ctx, `SELECT addr FROM leases`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	used := map[netip.Addr]bool{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("parsing leased address %q: %w", s, err)
		}
		used[a] = true
	}
	return used, rows.Err()
}

// ReleaseLease drops the lease of VM vmID. Idempotent: a VM without a lease
// (or an unknown VM) is not an error.
func (s *Store) ReleaseLease(ctx context.Context, vmID string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM leases WHERE vm_id = ?`, vmID)
	return s.wrap(err, "releasing address of vm %s", vmID)
}

// ListLeases returns every lease, ordered by address.
func (s *Store) ListLeases(ctx context.Context) ([]Lease, error) {
	ls, err := queryAll(ctx, s, scanLease, "listing leases", `SELECT addr, vm_id, created_at FROM leases`)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(ls, func(a, b Lease) int { return a.Addr.Compare(b.Addr) })
	return ls, nil
}

func scanLease(r scanner) (Lease, error) {
	var l Lease
	var addr, created string
	if err := r.Scan(&addr, &l.VMID, &created); err != nil {
		return Lease{}, err
	}
	var err error
	if l.Addr, err = netip.ParseAddr(addr); err != nil {
		return Lease{}, fmt.Errorf("parsing leased address %q: %w", addr, err)
	}
	l.CreatedAt, err = parseTime(created)
	return l, err
}
