package fcfake

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	MainFromEnv()
	os.Exit(m.Run())
}

// fixture is one in-process fake serving on a unix socket.
type fixture struct {
	dir     string
	srv     *Server
	client  *http.Client
	sock    string
	console *syncBuffer
	exits   chan int
	kernel  string // an ELF file
	bzImage string
	disk    string
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	spec, err := DefaultSpec()
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{dir: t.TempDir(), console: &syncBuffer{}, exits: make(chan int, 4)}
	f.sock = filepath.Join(f.dir, "fc.sock")
	cfg.Console = f.console
	cfg.Exit = func(code int) { f.exits <- code }
	if cfg.ID == "" {
		cfg.ID = "vm-1"
	}
	f.srv = NewServer(cfg, spec)
	ln, err := net.Listen("unix", f.sock)
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: f.srv}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close(); f.srv.Close() })
	f.client = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", f.sock)
		},
	}}
	f.kernel = writeFile(t, f.dir, "vmlinux", "\x7fELF\x02\x01\x01rest-of-kernel")
	f.bzImage = writeFile(t, f.dir, "bzImage", "MZ\x00\x00not-an-elf")
	f.disk = writeFile(t, f.dir, "root.img", strings.Repeat("\x00", 4096))
	return f
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// do sends a request with a Content-Length body (or none) and returns the
// status and the fault message, if any.
func (f *fixture) do(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://localhost"+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var fm struct {
		FaultMessage string `json:"fault_message"`
	}
	if resp.StatusCode == http.StatusBadRequest {
		if err := json.Unmarshal(raw, &fm); err != nil {
			t.Fatalf("400 body %q is not a fault message: %v", raw, err)
		}
	}
	if resp.StatusCode == http.StatusNoContent && len(raw) != 0 {
		t.Fatalf("204 with a body %q", raw)
	}
	return resp.StatusCode, fm.FaultMessage
}

func (f *fixture) mustDo(t *testing.T, method, path, body string) {
	t.Helper()
	if code, msg := f.do(t, method, path, body); code != http.StatusNoContent {
		t.Fatalf("%s %s %s: %d %s", method, path, body, code, msg)
	}
}

func (f *fixture) configure(t *testing.T) {
	t.Helper()
	f.mustDo(t, "PUT", "/machine-config", `{"vcpu_count":2,"mem_size_mib":256}`)
	f.mustDo(t, "PUT", "/boot-source", fmt.Sprintf(`{"kernel_image_path":%q,"boot_args":"console=ttyS0 reboot=k"}`, f.kernel))
	f.mustDo(t, "PUT", "/drives/rootfs", fmt.Sprintf(`{"drive_id":"rootfs","path_on_host":%q,"is_root_device":true,"is_read_only":false}`, f.disk))
	f.mustDo(t, "PUT", "/vsock", fmt.Sprintf(`{"guest_cid":3,"uds_path":%q}`, filepath.Join(f.dir, "v.sock")))
}

func (f *fixture) start(t *testing.T) {
	t.Helper()
	f.configure(t)
	f.mustDo(t, "PUT", "/actions", `{"action_type":"InstanceStart"}`)
}

func TestSpecLoggerOffIsAString(t *testing.T) {
	f := newFixture(t, Config{})
	// `Off` unquoted in the YAML enum: if it had become false, "Off"
	// would be rejected.
	f.mustDo(t, "PUT", "/logger", `{"level":"Off"}`)
	if code, _ := f.do(t, "PUT", "/logger", `{"level":false}`); code != 400 {
		t.Fatalf("level false accepted (%d): Off was read as a YAML 1.1 boolean", code)
	}
}

func TestSpecCoversEveryPathOfTheDocument(t *testing.T) {
	spec, err := DefaultSpec()
	if err != nil {
		t.Fatal(err)
	}
	if spec.Version != "1.16.1" {
		t.Fatalf("version %q", spec.Version)
	}
	for _, probe := range [][2]string{
		{"PUT", "/drives/x"}, {"PATCH", "/drives/x"}, {"PUT", "/vsock"},
		{"PUT", "/actions"}, {"GET", "/vm/config"}, {"PUT", "/snapshot/load"},
	} {
		if _, _, ok := spec.Route(probe[0], probe[1]); !ok {
			t.Errorf("%s %s not routed", probe[0], probe[1])
		}
	}
	if _, _, ok := spec.Route("DELETE", "/drives/x"); ok {
		t.Error("DELETE routed")
	}
}

// TestRequestRules checks each API rule of the real VMM on a fresh fake.
func TestRequestRules(t *testing.T) {
	cases := []struct {
		name   string
		setup  func(t *testing.T, f *fixture)
		method string
		path   string
		body   func(f *fixture) string
		code   int
		fault  string // substring of fault_message
	}{
		{name: "machine-config ok", method: "PUT", path: "/machine-config", body: lit(`{"vcpu_count":2,"mem_size_mib":256}`), code: 204},
		{name: "unknown field", method: "PUT", path: "/machine-config", body: lit(`{"vcpu_count":2,"mem_size_mib":256,"vcpus":2}`), code: 400, fault: "deserializing"},
		{name: "vcpu 0", method: "PUT", path: "/machine-config", body: lit(`{"vcpu_count":0,"mem_size_mib":256}`), code: 400, fault: "deserializing"},
		{name: "vcpu 33", method: "PUT", path: "/machine-config", body: lit(`{"vcpu_count":33,"mem_size_mib":256}`), code: 400, fault: "deserializing"},
		{name: "mem missing", method: "PUT", path: "/machine-config", body: lit(`{"vcpu_count":1}`), code: 400, fault: "deserializing"},
		{name: "negative mem", method: "PUT", path: "/machine-config", body: lit(`{"vcpu_count":1,"mem_size_mib":-1}`), code: 400, fault: "deserializing"},
		{name: "smt odd vcpus", method: "PUT", path: "/machine-config", body: lit(`{"vcpu_count":3,"mem_size_mib":256,"smt":true}`), code: 400, fault: "even"},
		{name: "patch machine partial", method: "PATCH", path: "/machine-config", body: lit(`{"vcpu_count":4}`), code: 204},
		{name: "bad json", method: "PUT", path: "/vsock", body: lit(`{"guest_cid":`), code: 400, fault: "deserializing"},
		{name: "guest cid 2", method: "PUT", path: "/vsock", body: func(f *fixture) string {
			return fmt.Sprintf(`{"guest_cid":2,"uds_path":%q}`, filepath.Join(f.dir, "v.sock"))
		}, code: 400, fault: "deserializing"},
		{name: "empty put", method: "PUT", path: "/machine-config", body: lit(""), code: 400, fault: "Empty PUT request."},
		{name: "empty patch", method: "PATCH", path: "/vm", body: lit(""), code: 400, fault: "Empty PATCH request."},
		{name: "unknown path", method: "PUT", path: "/nope", body: lit(`{}`), code: 400, fault: "Invalid request method and/or path: PUT nope."},
		{name: "bad id", method: "PUT", path: "/drives/a-b", body: lit(`{"drive_id":"a-b","is_root_device":false}`), code: 400, fault: "alphanumeric"},
		{name: "id mismatch", method: "PUT", path: "/drives/a", body: func(f *fixture) string {
			return fmt.Sprintf(`{"drive_id":"b","path_on_host":%q,"is_root_device":true,"is_read_only":true}`, f.disk)
		}, code: 400, fault: "does not match"},
		{name: "missing drive file", method: "PUT", path: "/drives/a", body: lit(`{"drive_id":"a","path_on_host":"/nonexistent/x","is_root_device":true,"is_read_only":true}`), code: 400, fault: "block device"},
		{name: "second root", setup: func(t *testing.T, f *fixture) {
			f.mustDo(t, "PUT", "/drives/a", fmt.Sprintf(`{"drive_id":"a","path_on_host":%q,"is_root_device":true,"is_read_only":true}`, f.disk))
		}, method: "PUT", path: "/drives/b", body: func(f *fixture) string {
			return fmt.Sprintf(`{"drive_id":"b","path_on_host":%q,"is_root_device":true,"is_read_only":true}`, f.disk)
		}, code: 400, fault: "root block device already exists"},
		{name: "missing kernel file", method: "PUT", path: "/boot-source", body: lit(`{"kernel_image_path":"/nonexistent/vmlinux"}`), code: 400, fault: "kernel file cannot be opened"},
		{name: "bad mac", method: "PUT", path: "/network-interfaces/eth0", body: lit(`{"iface_id":"eth0","host_dev_name":"tap0","guest_mac":"nope"}`), code: 400, fault: "MAC"},
		{name: "start without boot source", method: "PUT", path: "/actions", body: lit(`{"action_type":"InstanceStart"}`), code: 400, fault: msgNoKernel},
		{name: "start with bzImage", setup: func(t *testing.T, f *fixture) {
			f.mustDo(t, "PUT", "/boot-source", fmt.Sprintf(`{"kernel_image_path":%q}`, f.bzImage))
		}, method: "PUT", path: "/actions", body: lit(`{"action_type":"InstanceStart"}`), code: 400, fault: "ELF"},
		{name: "unknown action", method: "PUT", path: "/actions", body: lit(`{"action_type":"Reboot"}`), code: 400, fault: "deserializing"},
		{name: "ctrl-alt-del before boot", method: "PUT", path: "/actions", body: lit(`{"action_type":"SendCtrlAltDel"}`), code: 400, fault: msgPreBoot},
		{name: "patch drive before boot", method: "PATCH", path: "/drives/rootfs", body: lit(`{"drive_id":"rootfs"}`), code: 400, fault: msgPreBoot},
		{name: "pause before boot", method: "PATCH", path: "/vm", body: lit(`{"state":"Paused"}`), code: 400, fault: msgPreBoot},
		{name: "machine-config after boot", setup: started, method: "PUT", path: "/machine-config", body: lit(`{"vcpu_count":1,"mem_size_mib":128}`), code: 400, fault: msgPostBoot},
		{name: "boot-source after boot", setup: started, method: "PUT", path: "/boot-source", body: func(f *fixture) string {
			return fmt.Sprintf(`{"kernel_image_path":%q}`, f.kernel)
		}, code: 400, fault: msgPostBoot},
		{name: "drive after boot", setup: started, method: "PUT", path: "/drives/x", body: func(f *fixture) string {
			return fmt.Sprintf(`{"drive_id":"x","path_on_host":%q,"is_root_device":false,"is_read_only":true}`, f.disk)
		}, code: 400, fault: msgPostBoot},
		{name: "net after boot", setup: started, method: "PUT", path: "/network-interfaces/eth0", body: lit(`{"iface_id":"eth0","host_dev_name":"tap0"}`), code: 400, fault: msgPostBoot},
		{name: "vsock after boot", setup: started, method: "PUT", path: "/vsock", body: lit(`{"guest_cid":3,"uds_path":"/tmp/x"}`), code: 400, fault: msgPostBoot},
		{name: "second start", setup: started, method: "PUT", path: "/actions", body: lit(`{"action_type":"InstanceStart"}`), code: 400, fault: msgPostBoot},
		{name: "pause after boot", setup: started, method: "PATCH", path: "/vm", body: lit(`{"state":"Paused"}`), code: 204},
		{name: "snapshot while running", setup: started, method: "PUT", path: "/snapshot/create", body: lit(`{"snapshot_path":"/tmp/s","mem_file_path":"/tmp/m"}`), code: 400, fault: "not paused"},
		{name: "get with body", method: "GET", path: "/", body: lit(`{}`), code: 400, fault: "GET request cannot have a body."},
		{name: "body too large", method: "PUT", path: "/mmds", body: lit(`{"k":"` + strings.Repeat("a", DefaultMaxBody) + `"}`), code: 400, fault: "larger than the limit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Config{})
			if tc.setup != nil {
				tc.setup(t, f)
			}
			code, msg := f.do(t, tc.method, tc.path, tc.body(f))
			if code != tc.code || !strings.Contains(msg, tc.fault) {
				t.Fatalf("got %d %q, want %d with %q", code, msg, tc.code, tc.fault)
			}
		})
	}
}

func lit(s string) func(*fixture) string { return func(*fixture) string { return s } }

func started(t *testing.T, f *fixture) { f.start(t) }

func TestChunkedBodyIsEmpty(t *testing.T) {
	f := newFixture(t, Config{})
	c, err := net.Dial("unix", f.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	body := `{"vcpu_count":2,"mem_size_mib":256}`
	fmt.Fprintf(c, "PUT /machine-config HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(body), body)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 400 || !strings.Contains(string(raw), "Empty PUT request.") {
		t.Fatalf("chunked PUT: %d %s", resp.StatusCode, raw)
	}
}

func TestGetsReportState(t *testing.T) {
	f := newFixture(t, Config{ID: "vm-7"})
	var info map[string]string
	f.getJSON(t, "/", &info)
	if info["state"] != "Not started" || info["id"] != "vm-7" || info["vmm_version"] != "1.16.1" {
		t.Fatalf("GET / before boot: %v", info)
	}
	var mc map[string]any
	f.getJSON(t, "/machine-config", &mc)
	if mc["vcpu_count"] != 1.0 || mc["mem_size_mib"] != 128.0 {
		t.Fatalf("default machine-config: %v", mc)
	}
	f.start(t)
	f.getJSON(t, "/", &info)
	if info["state"] != "Running" {
		t.Fatalf("GET / after boot: %v", info)
	}
	var full map[string]json.RawMessage
	f.getJSON(t, "/vm/config", &full)
	var boot bootSource
	if err := json.Unmarshal(full["boot-source"], &boot); err != nil || boot.KernelImagePath != f.kernel {
		t.Fatalf("vm/config boot-source %s: %v", full["boot-source"], err)
	}
	if !strings.Contains(f.console.String(), "Command line: console=ttyS0 reboot=k") {
		t.Fatalf("console after boot: %q", f.console.String())
	}
}

func (f *fixture) getJSON(t *testing.T, path string, v any) {
	t.Helper()
	resp, err := f.client.Get("http://localhost" + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func TestCtrlAltDelEndsTheVMM(t *testing.T) {
	f := newFixture(t, Config{})
	f.start(t)
	f.mustDo(t, "PUT", "/actions", `{"action_type":"SendCtrlAltDel"}`)
	select {
	case code := <-f.exits:
		if code != 0 {
			t.Fatalf("exit code %d", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("VMM did not exit after Ctrl-Alt-Del")
	}
}

// vsockConnect performs the host side of the hybrid vsock handshake.
func vsockConnect(t *testing.T, path string, port int) (net.Conn, *bufio.Reader, string) {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "CONNECT %d\n", port)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	line, _ := br.ReadString('\n')
	return c, br, line
}

func TestVsockHandshake(t *testing.T) {
	f := newFixture(t, Config{EchoPorts: []uint32{52}, GuestReadyDelay: 300 * time.Millisecond})
	f.configure(t)
	uds := filepath.Join(f.dir, "v.sock")
	// Before boot no guest listens: closed without a message.
	if _, _, line := vsockConnect(t, uds, 52); line != "" {
		t.Fatalf("before boot got %q", line)
	}
	f.mustDo(t, "PUT", "/actions", `{"action_type":"InstanceStart"}`)
	// Guest still booting: closed too.
	if _, _, line := vsockConnect(t, uds, 52); line != "" {
		t.Fatalf("while booting got %q", line)
	}
	time.Sleep(400 * time.Millisecond)
	if _, _, line := vsockConnect(t, uds, 53); line != "" {
		t.Fatalf("port without listener got %q", line)
	}
	c, br, line := vsockConnect(t, uds, 52)
	if line != fmt.Sprintf("OK %d\n", firstHostPort) {
		t.Fatalf("handshake answer %q", line)
	}
	fmt.Fprintf(c, "ping\n")
	if echo, _ := br.ReadString('\n'); echo != "ping\n" {
		t.Fatalf("echo %q", echo)
	}
	if _, _, line := vsockConnect(t, uds, 52); line != fmt.Sprintf("OK %d\n", firstHostPort+1) {
		t.Fatalf("second connection %q", line)
	}
}
