package daemon_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"banger/internal/api"
	"banger/internal/daemon"
	"banger/internal/daemon/daemontest"
	"banger/internal/hostnet"
	"banger/internal/store"
)

// call sends one raw request to the daemon on sock.
func call(t *testing.T, sock, method, path, body string) (int, http.Header, []byte) {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}, Timeout: 10 * time.Second}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://banger"+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// wantError checks status, JSON content type, code, and that the message
// contains each of parts.
func wantError(t *testing.T, sock, method, path, body string, status int, code api.Code, parts ...string) *api.Error {
	t.Helper()
	got, hdr, b := call(t, sock, method, path, body)
	if got != status {
		t.Errorf("%s %s: status %d, want %d (body %s)", method, path, got, status, b)
	}
	if ct := hdr.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: content type %q, want application/json", method, path, ct)
	}
	var eb api.ErrorBody
	if err := json.Unmarshal(b, &eb); err != nil || eb.Error == nil {
		t.Fatalf("%s %s: body %q is not an error body: %v", method, path, b, err)
	}
	if eb.Error.Code != code {
		t.Errorf("%s %s: code %s, want %s", method, path, eb.Error.Code, code)
	}
	for _, p := range parts {
		if !strings.Contains(eb.Error.Message+" "+eb.Error.Hint, p) {
			t.Errorf("%s %s: error %+v does not mention %q", method, path, eb.Error, p)
		}
	}
	return eb.Error
}

func fixture() *daemontest.Store {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return &daemontest.Store{
		Kernels: []store.Kernel{{ID: "k1", Name: "cloud", Version: "6.1", Path: "/k", CreatedAt: now}, {ID: "k2", Name: "spare"}},
		Images:  []store.Image{{ID: "i1", Name: "bookworm", KernelID: "k1", SizeBytes: 1 << 30, CreatedAt: now}, {ID: "i2", Name: "unused"}},
		VMs: []store.VM{
			{ID: "v1", Name: "dev", State: store.VMStopped, ImageID: "i1", KernelID: "k1", VCPUs: 2, MemoryMiB: 1024, IP: netip.MustParseAddr("172.30.0.2"), CreatedAt: now},
			{ID: "v2", Name: "busy", State: store.VMRunning, ImageID: "i1", KernelID: "k1", Tap: "bgtap2",
				Runtime: []byte(`{"driver":"qemu","accel":"tcg","pid":4242,"pid_start":1,"console_log":"c","run_dir":"r"}`)},
		},
		Leases: map[string]bool{"v1": true, "v2": true},
	}
}

func TestEmptyLists(t *testing.T) {
	sock := daemontest.Start(t, daemon.Deps{})
	for _, p := range []string{"/v1/vms", "/v1/images", "/v1/kernels"} {
		status, _, b := call(t, sock, "GET", p, "")
		if status != 200 || strings.TrimSpace(string(b)) != "[]" {
			t.Errorf("GET %s = %d %q, want 200 []", p, status, b)
		}
	}
}

func TestUnknownNames(t *testing.T) {
	for name, st := range map[string]*daemontest.Store{"empty": {}, "populated": fixture()} {
		t.Run(name, func(t *testing.T) {
			sock := daemontest.Start(t, daemon.Deps{Store: st})
			for _, kind := range []string{"vms", "images", "kernels"} {
				for _, m := range []string{"GET", "DELETE"} {
					wantError(t, sock, m, "/v1/"+kind+"/nope", "", 404, api.CodeNotFound, "nope", "banger ")
				}
			}
		})
	}
}

func TestListAndShow(t *testing.T) {
	sock := daemontest.Start(t, daemon.Deps{Store: fixture()})
	status, _, b := call(t, sock, "GET", "/v1/vms", "")
	var vms []api.VM
	if err := json.Unmarshal(b, &vms); status != 200 || err != nil {
		t.Fatalf("GET /v1/vms = %d %s (%v)", status, b, err)
	}
	if len(vms) != 2 || vms[0].Name != "busy" || vms[1].Name != "dev" {
		t.Fatalf("VMs not listed by name: %+v", vms)
	}
	if vms[0].PID != 4242 || vms[0].Accel != "tcg" || vms[0].Tap != "bgtap2" || vms[1].PID != 0 {
		t.Errorf("runtime details not shown for the running VM only: %+v", vms)
	}
	for _, key := range []string{"dev", "v1"} { // by name and by id
		status, _, b = call(t, sock, "GET", "/v1/vms/"+key, "")
		var vm api.VM
		if err := json.Unmarshal(b, &vm); status != 200 || err != nil {
			t.Fatalf("GET /v1/vms/%s = %d %s (%v)", key, status, b, err)
		}
		if vm.ID != "v1" || vm.Image != "bookworm" || vm.Kernel != "cloud" || vm.IP != "172.30.0.2" {
			t.Errorf("GET /v1/vms/%s = %+v: want image/kernel names and IP", key, vm)
		}
	}
	status, _, b = call(t, sock, "GET", "/v1/images/bookworm", "")
	var img api.Image
	if err := json.Unmarshal(b, &img); status != 200 || err != nil || img.Kernel != "cloud" || img.SizeBytes != 1<<30 {
		t.Errorf("GET /v1/images/bookworm = %d %s", status, b)
	}
	status, _, b = call(t, sock, "GET", "/v1/kernels/cloud", "")
	var k api.Kernel
	if err := json.Unmarshal(b, &k); status != 200 || err != nil || k.Version != "6.1" {
		t.Errorf("GET /v1/kernels/cloud = %d %s", status, b)
	}
}

func TestRemove(t *testing.T) {
	st := fixture()
	sock := daemontest.Start(t, daemon.Deps{Store: st})

	wantError(t, sock, "DELETE", "/v1/vms/busy", "", 409, api.CodeConflict, "running", "--force")
	wantError(t, sock, "DELETE", "/v1/images/bookworm", "", 409, api.CodeConflict, "busy, dev")
	wantError(t, sock, "DELETE", "/v1/kernels/cloud", "", 409, api.CodeConflict, "bookworm")
	wantError(t, sock, "DELETE", "/v1/vms/dev?force=maybe", "", 400, api.CodeInvalidArgument, "force")

	if status, _, b := call(t, sock, "DELETE", "/v1/vms/dev", ""); status != 204 {
		t.Fatalf("DELETE /v1/vms/dev = %d %s", status, b)
	}
	if status, _, b := call(t, sock, "DELETE", "/v1/vms/busy?force=1", ""); status != 204 {
		t.Fatalf("DELETE /v1/vms/busy?force=1 = %d %s", status, b)
	}
	if len(st.VMs) != 0 || len(st.Leases) != 0 {
		t.Errorf("after rm: VMs %v leases %v, want none", st.VMs, st.Leases)
	}
	wantError(t, sock, "DELETE", "/v1/vms/dev", "", 404, api.CodeNotFound, "dev")

	for _, p := range []string{"/v1/images/bookworm", "/v1/images/unused", "/v1/kernels/cloud", "/v1/kernels/spare"} {
		if status, _, b := call(t, sock, "DELETE", p, ""); status != 204 {
			t.Errorf("DELETE %s = %d %s", p, status, b)
		}
	}
	if len(st.Images) != 0 || len(st.Kernels) != 0 {
		t.Errorf("after rm: images %v kernels %v, want none", st.Images, st.Kernels)
	}
}

func TestBadRequests(t *testing.T) {
	sock := daemontest.Start(t, daemon.Deps{})
	cases := []struct {
		name, method, path, body string
		status                   int
		code                     api.Code
		parts                    []string
	}{
		{"malformed", "POST", "/v1/vms", `{"name": "dev",}`, 400, api.CodeInvalidArgument, []string{"malformed JSON", "byte"}},
		{"truncated", "POST", "/v1/vms", `{"name": "dev"`, 400, api.CodeInvalidArgument, []string{"truncated"}},
		{"empty", "POST", "/v1/vms", ``, 400, api.CodeInvalidArgument, []string{"empty"}},
		{"unknown field", "POST", "/v1/vms", `{"name": "dev", "cpus": 2}`, 400, api.CodeInvalidArgument, []string{`unknown field "cpus"`}},
		{"wrong type", "POST", "/v1/vms", `{"name": "dev", "vcpus": "two"}`, 400, api.CodeInvalidArgument, []string{`"vcpus"`, "int"}},
		{"trailing", "POST", "/v1/vms", `{"name": "dev"} {}`, 400, api.CodeInvalidArgument, []string{"after the JSON object"}},
		{"oversized", "POST", "/v1/vms", `{"name": "` + strings.Repeat("a", 2<<20) + `"}`, 413, api.CodeTooLarge, []string{"larger than 1048576 bytes"}},
		{"invalid name", "POST", "/v1/vms", `{"name": "a/b"}`, 400, api.CodeInvalidArgument, []string{`"a/b"`, api.NameRule}},
		{"invalid path name", "GET", "/v1/vms/a%2Fb", "", 400, api.CodeInvalidArgument, []string{`"a/b"`}},
		{"upper case name", "GET", "/v1/images/Big", "", 400, api.CodeInvalidArgument, []string{`'B'`}},
		{"wrong method", "PUT", "/v1/vms", "", 405, api.CodeMethodNotAllowed, []string{"PUT", "GET"}},
		{"unknown route", "GET", "/v1/nothing", "", 404, api.CodeNotFound, []string{"/v1/nothing", "banger version"}},
		{"unversioned", "GET", "/vms", "", 404, api.CodeNotFound, []string{"/vms"}},
		{"bad disk size", "POST", "/v1/vms", `{"name": "dev", "disk_size": "8 parsecs"}`, 400, api.CodeInvalidArgument, []string{"disk_size", "8 parsecs"}},
		{"create unavailable", "POST", "/v1/vms", `{"name": "dev"}`, 501, api.CodeUnavailable, []string{"VM creation is not available yet"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantError(t, sock, c.method, c.path, c.body, c.status, c.code, c.parts...)
		})
	}
}

func TestVersionAndHealth(t *testing.T) {
	sock := daemontest.Start(t, daemon.Deps{Version: "1.2.3"})
	status, _, b := call(t, sock, "GET", "/v1/version", "")
	var v api.VersionInfo
	if err := json.Unmarshal(b, &v); status != 200 || err != nil || v.Version != "1.2.3" || v.API != api.Version {
		t.Errorf("GET /v1/version = %d %s", status, b)
	}
	status, _, b = call(t, sock, "GET", "/v1/healthz", "")
	if status != 200 || !strings.Contains(string(b), `"ok"`) {
		t.Errorf("GET /v1/healthz = %d %s", status, b)
	}
}

type fakeNet struct {
	teardowns int
	left      []hostnet.Object
}

func (n *fakeNet) Teardown(context.Context) error { n.teardowns++; return nil }
func (n *fakeNet) Leftovers(context.Context) ([]hostnet.Object, error) {
	return n.left, nil
}

func TestTeardown(t *testing.T) {
	sock := daemontest.Start(t, daemon.Deps{})
	status, _, b := call(t, sock, "POST", "/v1/system/teardown", "")
	var res api.TeardownResult
	if err := json.Unmarshal(b, &res); status != 200 || err != nil || res.Done {
		t.Errorf("teardown without network = %d %s, want 200 done=false", status, b)
	}

	n := &fakeNet{}
	sock = daemontest.Start(t, daemon.Deps{Store: fixture(), Network: n})
	wantError(t, sock, "POST", "/v1/system/teardown", "", 409, api.CodeConflict, "busy", "--force")
	if n.teardowns != 0 {
		t.Fatalf("teardown ran despite a running VM")
	}
	status, _, b = call(t, sock, "POST", "/v1/system/teardown?force=true", "")
	if err := json.Unmarshal(b, &res); status != 200 || err != nil || !res.Done || n.teardowns != 1 || len(res.Leftovers) != 0 {
		t.Errorf("forced teardown = %d %s, %d teardowns", status, b, n.teardowns)
	}

	n.left = []hostnet.Object{{Kind: hostnet.KindBridge, Name: "banger0"}}
	status, _, b = call(t, sock, "POST", "/v1/system/teardown?force=1", "")
	res = api.TeardownResult{}
	if err := json.Unmarshal(b, &res); status != 200 || err != nil || !slices.Equal(res.Leftovers, []string{"bridge banger0"}) {
		t.Errorf("teardown with a leftover = %d %s, want it listed", status, b)
	}
}

// image rm and kernel rm delete the files banger owns, and only those.
func TestRemoveDeletesOwnedFiles(t *testing.T) {
	dir := shortDir(t)
	sock := filepath.Join(dir, "banger.sock") // state dir = dir
	img := filepath.Join(dir, "images", "bookworm.ext4")
	kdir := filepath.Join(dir, "kernels", "cloud")
	boot := filepath.Join(shortDir(t), "vmlinuz") // imported in place: not banger's
	for _, p := range []string{img, filepath.Join(kdir, "vmlinuz"), filepath.Join(kdir, "vmlinux"), boot} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	st := &daemontest.Store{
		Kernels: []store.Kernel{{ID: "k1", Name: "cloud", Path: filepath.Join(kdir, "vmlinuz"), Vmlinux: filepath.Join(kdir, "vmlinux")},
			{ID: "k2", Name: "host", Path: boot}},
		Images: []store.Image{{ID: "i1", Name: "bookworm", Path: img, KernelID: "k1"}},
	}
	daemontest.StartAt(t, sock, "", daemon.Deps{Store: st})
	for _, p := range []string{"/v1/images/bookworm", "/v1/kernels/cloud", "/v1/kernels/host"} {
		if status, _, b := call(t, sock, "DELETE", p, ""); status != 204 {
			t.Fatalf("DELETE %s = %d %s", p, status, b)
		}
	}
	for _, p := range []string{img, kdir} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s not removed (%v)", p, err)
		}
	}
	if _, err := os.Lstat(boot); err != nil {
		t.Errorf("kernel file outside the state dir was removed: %v", err)
	}
}
