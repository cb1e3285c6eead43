package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// checkDistinct fails on a duplicate address, the gateway, or an address
// outside subnet's host range.
func checkDistinct(t *testing.T, subnet netip.Prefix, addrs map[string]netip.Addr) {
	t.Helper()
	first, last, err := hostRange(subnet)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[netip.Addr]string{}
	for vm, a := range addrs {
		if prev, dup := seen[a]; dup {
			t.Errorf("address %s given to both %s and %s", a, prev, vm)
		}
		seen[a] = vm
		if a == gatewayOf(subnet) || a.Less(first) || last.Less(a) {
			t.Errorf("vm %s got %s, outside %s..%s or the gateway", vm, a, first, last)
		}
	}
}

func TestAllocateLeaseLowestFreeAndExhaustion(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	subnet := netip.MustParsePrefix("10.9.8.0/29") // hosts .1-.6; .1 is the gateway
	gw := gatewayOf(subnet)
	var got []string
	var vms []VM
	for i := range 5 {
		vm := mustCreateVM(t, s, VM{Name: fmt.Sprint("vm", i)})
		vms = append(vms, vm)
		a, err := s.AllocateLease(ctx, vm.ID, subnet, gw)
		if err != nil {
			t.Fatalf("AllocateLease #%d: %v", i, err)
		}
		got = append(got, a.String())
	}
	if want := "10.9.8.2 10.9.8.3 10.9.8.4 10.9.8.5 10.9.8.6"; strings.Join(got, " ") != want {
		t.Errorf("allocated %v, want %s", got, want)
	}

	// Idempotent per VM.
	again, err := s.AllocateLease(ctx, vms[2].ID, subnet, gw)
	if err != nil || again.String() != got[2] {
		t.Errorf("second AllocateLease for %s = %s, %v; want %s", vms[2].Name, again, err, got[2])
	}

	full := mustCreateVM(t, s, VM{Name: "full"})
	if _, err := s.AllocateLease(ctx, full.ID, subnet, gw); !errors.Is(err, ErrExhausted) {
		t.Fatalf("AllocateLease on a full /29 = %v, want ErrExhausted", err)
	}

	// Release frees the address for the next VM; releasing twice is fine.
	for range 2 {
		if err := s.ReleaseLease(ctx, vms[1].ID); err != nil {
			t.Fatalf("ReleaseLease: %v", err)
		}
	}
	if a, err := s.AllocateLease(ctx, full.ID, subnet, gw); err != nil || a.String() != got[1] {
		t.Errorf("AllocateLease after release = %s, %v; want %s", a, err, got[1])
	}

	// DeleteVM frees the lease too.
	if err := s.DeleteVM(ctx, vms[3].ID); err != nil {
		t.Fatal(err)
	}
	leases, err := s.ListLeases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range leases {
		if l.VMID == vms[3].ID || l.Addr.String() == got[3] {
			t.Errorf("lease %+v survived DeleteVM of %s", l, vms[3].ID)
		}
	}
	if len(leases) != 4 {
		t.Errorf("ListLeases has %d leases, want 4: %+v", len(leases), leases)
	}
	late := mustCreateVM(t, s, VM{Name: "late"})
	if a, err := s.AllocateLease(ctx, late.ID, subnet, gw); err != nil || a.String() != got[3] {
		t.Errorf("AllocateLease after DeleteVM = %s, %v; want %s", a, err, got[3])
	}
}

func TestAllocateLeaseErrors(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	vm := mustCreateVM(t, s, VM{Name: "dev"})
	if _, err := s.AllocateLease(ctx, "no-such-vm", netip.MustParsePrefix("10.0.0.0/24")); !errors.Is(err, ErrNotFound) {
		t.Errorf("AllocateLease for an unknown vm = %v, want ErrNotFound", err)
	}
	if _, err := s.AllocateLease(ctx, vm.ID, netip.MustParsePrefix("fd00::/64")); err == nil {
		t.Error("AllocateLease accepted an IPv6 subnet")
	}
	if _, err := s.AllocateLease(ctx, vm.ID, netip.MustParsePrefix("10.0.0.0/31")); !errors.Is(err, ErrExhausted) {
		t.Errorf("AllocateLease in a /31 = %v, want ErrExhausted", err)
	}
	// An unmasked prefix (the gateway's own prefix) works.
	a, err := s.AllocateLease(ctx, vm.ID, netip.MustParsePrefix("10.0.0.1/24"), netip.MustParseAddr("10.0.0.1"))
	if err != nil || a != netip.MustParseAddr("10.0.0.2") {
		t.Errorf("AllocateLease(10.0.0.1/24) = %s, %v; want 10.0.0.2", a, err)
	}
}

func TestAllocateLeaseConcurrentGoroutines(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	subnet := netip.MustParsePrefix("172.30.0.0/24")
	const n = 50
	vms := make([]VM, n)
	for i := range vms {
		vms[i] = mustCreateVM(t, s, VM{Name: fmt.Sprint("g", i)})
	}
	addrs := make([]netip.Addr, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range vms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Twice each, racing with everyone: must stay one address per VM.
			a, err := s.AllocateLease(ctx, vms[i].ID, subnet, gatewayOf(subnet))
			if err != nil {
				errs[i] = err
				return
			}
			b, err := s.AllocateLease(ctx, vms[i].ID, subnet, gatewayOf(subnet))
			if err == nil && a != b {
				err = fmt.Errorf("vm %s got %s then %s", vms[i].Name, a, b)
			}
			addrs[i], errs[i] = a, err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	byVM := map[string]netip.Addr{}
	for i, a := range addrs {
		byVM[vms[i].ID] = a
	}
	checkDistinct(t, subnet, byVM)
	checkLeasesMatch(t, s, byVM)
}

// checkLeasesMatch checks that the stored leases are exactly want.
func checkLeasesMatch(t *testing.T, s *Store, want map[string]netip.Addr) {
	t.Helper()
	leases, err := s.ListLeases(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(leases) != len(want) {
		t.Errorf("ListLeases has %d leases, want %d", len(leases), len(want))
	}
	for _, l := range leases {
		if want[l.VMID] != l.Addr {
			t.Errorf("stored lease %s -> %s, but the caller got %s", l.VMID, l.Addr, want[l.VMID])
		}
	}
}

func TestAllocateLeaseConcurrentProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "banger.db")
	s := openTest(t, path) // migrate once up front; the helpers only read the schema version
	subnet := netip.MustParsePrefix("172.31.0.0/24")
	const n = 50
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	type result struct {
		out, errOut bytes.Buffer
		err         error
	}
	results := make([]*result, n)
	var wg sync.WaitGroup
	for i := range results {
		r := &result{}
		results[i] = r
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperEnv+"="+helperAlloc, helperDB+"="+path,
			helperVM+"="+fmt.Sprint("proc", i), helperNet+"="+subnet.String())
		cmd.Stdout, cmd.Stderr = &r.out, &r.errOut
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting helper %d: %v", i, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.err = cmd.Wait()
		}()
	}
	wg.Wait()
	byVM := map[string]netip.Addr{}
	for i, r := range results {
		if r.err != nil {
			t.Errorf("helper %d: %v: %s", i, r.err, r.errOut.String())
			continue
		}
		var id, addr string
		if _, err := fmt.Sscan(r.out.String(), &id, &addr); err != nil {
			t.Errorf("helper %d printed %q: %v", i, r.out.String(), err)
			continue
		}
		byVM[id] = netip.MustParseAddr(addr)
	}
	if len(byVM) != n {
		t.Fatalf("%d helpers reported a lease, want %d", len(byVM), n)
	}
	checkDistinct(t, subnet, byVM)
	checkLeasesMatch(t, s, byVM)
}
