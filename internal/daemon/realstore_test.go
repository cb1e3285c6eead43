package daemon_test

import (
	"context"
	"encoding/json"
	"net/netip"
	"path/filepath"
	"testing"

	"banger/internal/api"
	"banger/internal/daemon"
	"banger/internal/daemon/daemontest"
	"banger/internal/store"
)

// The daemon over the real SQLite store: what the fake promises holds.
func TestWithSQLiteStore(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "banger.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	k := &store.Kernel{Name: "cloud", Path: "/k"}
	if err := st.CreateKernel(ctx, k); err != nil {
		t.Fatal(err)
	}
	img := &store.Image{Name: "bookworm", Path: "/i", KernelID: k.ID}
	if err := st.CreateImage(ctx, img); err != nil {
		t.Fatal(err)
	}
	vm := &store.VM{Name: "dev", State: store.VMStopped, ImageID: img.ID, KernelID: k.ID}
	if err := st.CreateVM(ctx, vm); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AllocateLease(ctx, vm.ID, netip.MustParsePrefix("172.30.0.0/24")); err != nil {
		t.Fatal(err)
	}

	sock := daemontest.Start(t, daemon.Deps{Store: st})
	status, _, b := call(t, sock, "GET", "/v1/vms/dev", "")
	var got api.VM
	if err := json.Unmarshal(b, &got); status != 200 || err != nil || got.ID != vm.ID || got.Image != "bookworm" {
		t.Fatalf("GET /v1/vms/dev = %d %s", status, b)
	}
	wantError(t, sock, "GET", "/v1/vms/nope", "", 404, api.CodeNotFound, "nope")
	wantError(t, sock, "DELETE", "/v1/kernels/cloud", "", 409, api.CodeConflict, "bookworm")

	if status, _, b := call(t, sock, "DELETE", "/v1/vms/dev", ""); status != 204 {
		t.Fatalf("DELETE /v1/vms/dev = %d %s", status, b)
	}
	leases, err := st.ListLeases(ctx)
	if err != nil || len(leases) != 0 {
		t.Errorf("leases after rm = %v, %v; want none", leases, err)
	}
	for _, p := range []string{"/v1/images/bookworm", "/v1/kernels/cloud"} {
		if status, _, b := call(t, sock, "DELETE", p, ""); status != 204 {
			t.Errorf("DELETE %s = %d %s", p, status, b)
		}
	}
	for _, p := range []string{"/v1/vms", "/v1/images", "/v1/kernels"} {
		if status, _, b := call(t, sock, "GET", p, ""); status != 200 || string(b) != "[]\n" {
			t.Errorf("GET %s after rm = %d %q", p, status, b)
		}
	}
}
