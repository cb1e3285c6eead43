package client_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"banger/internal/api"
	"banger/internal/client"
	"banger/internal/daemon"
	"banger/internal/daemon/daemontest"
	"banger/internal/store"
)

func apiError(t *testing.T, err error, code api.Code, parts ...string) {
	t.Helper()
	var e *api.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *api.Error", err, err)
	}
	if e.Code != code {
		t.Errorf("code %s, want %s (%v)", e.Code, code, e)
	}
	for _, p := range parts {
		if !strings.Contains(e.Error(), p) {
			t.Errorf("error %q does not mention %q", e.Error(), p)
		}
	}
}

func TestAgainstDaemon(t *testing.T) {
	ctx := context.Background()
	st := &daemontest.Store{
		Images: []store.Image{{ID: "i1", Name: "bookworm"}},
		VMs:    []store.VM{{ID: "v1", Name: "dev", State: store.VMStopped, ImageID: "i1"}},
	}
	c := client.New(daemontest.Start(t, daemon.Deps{Store: st, Version: "9.9"}))

	if v, err := c.Version(ctx); err != nil || v.Version != "9.9" {
		t.Fatalf("Version = %+v, %v", v, err)
	}
	if h, err := c.Health(ctx); err != nil || h.Status != "ok" {
		t.Fatalf("Health = %+v, %v", h, err)
	}
	vms, err := c.ListVMs(ctx)
	if err != nil || len(vms) != 1 || vms[0].Image != "bookworm" {
		t.Fatalf("ListVMs = %+v, %v", vms, err)
	}
	vm, err := c.GetVM(ctx, "dev")
	if err != nil || vm.ID != "v1" {
		t.Fatalf("GetVM = %+v, %v", vm, err)
	}
	_, err = c.GetVM(ctx, "nope")
	apiError(t, err, api.CodeNotFound, "nope", "banger vm ls")
	_, err = c.GetVM(ctx, "a/b")
	apiError(t, err, api.CodeInvalidArgument, `"a/b"`, api.NameRule)

	_, err = c.CreateVM(ctx, api.CreateVMRequest{Name: "new"})
	apiError(t, err, api.CodeUnavailable, "VM creation is not available yet")
	if e := (*api.Error)(nil); errors.As(err, &e) && e.HTTPStatus() != http.StatusNotImplemented {
		t.Errorf("create status %d, want 501", e.HTTPStatus())
	}

	if err := c.DeleteImage(ctx, "bookworm"); err == nil {
		t.Error("DeleteImage of an image in use succeeded")
	}
	if err := c.DeleteVM(ctx, "dev", false); err != nil {
		t.Fatalf("DeleteVM: %v", err)
	}
	apiError(t, c.DeleteVM(ctx, "dev", false), api.CodeNotFound, "dev")
	if err := c.DeleteImage(ctx, "bookworm"); err != nil {
		t.Fatalf("DeleteImage: %v", err)
	}
	imgs, err := c.ListImages(ctx)
	if err != nil || imgs == nil || len(imgs) != 0 {
		t.Fatalf("ListImages after rm = %#v, %v; want empty non-nil", imgs, err)
	}
	ks, err := c.ListKernels(ctx)
	if err != nil || len(ks) != 0 {
		t.Fatalf("ListKernels = %+v, %v", ks, err)
	}
	_, err = c.GetKernel(ctx, "k")
	apiError(t, err, api.CodeNotFound, "banger kernel ls")
	apiError(t, c.DeleteKernel(ctx, "k"), api.CodeNotFound, "k")
	if r, err := c.Teardown(ctx, false); err != nil || r.Done {
		t.Fatalf("Teardown without network = %+v, %v", r, err)
	}
}

func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "banger-client-") // short: sun_path limit
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func TestDaemonNotRunning(t *testing.T) {
	dir := tempDir(t)
	missing := filepath.Join(dir, "missing.sock")
	_, err := client.New(missing).ListVMs(context.Background())
	apiError(t, err, api.CodeUnavailable, "banger daemon is not running (socket "+missing+")",
		"sudo systemctl start banger", "sudo banger daemon")

	// A socket file left by a dead daemon refuses connections.
	stale := filepath.Join(dir, "stale.sock")
	ln, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	_, err = client.New(stale).Version(context.Background())
	apiError(t, err, api.CodeUnavailable, "not running", "sudo banger daemon")
}

// Something that is not banger on the socket: errors still come back
// typed, with the HTTP status and the body's start.
func TestNonJSONError(t *testing.T) {
	sock := filepath.Join(tempDir(t), "other.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream exploded", http.StatusBadGateway)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	_, err = client.New(sock).ListVMs(context.Background())
	apiError(t, err, api.CodeInternal, "HTTP 502", "upstream exploded")
}
