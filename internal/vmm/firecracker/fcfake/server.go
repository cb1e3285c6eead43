// Package fcfake is a stand-in for the Firecracker v1.16.1 VMM, as strict as
// the real one towards its client: the HTTP API on a unix socket (bodies only
// through Content-Length, strict JSON validated against the official OpenAPI
// description, pre-/post-boot rules), a "guest" that writes a console banner,
// the hybrid vsock handshake on the vsock unix socket, and Ctrl-Alt-Del ending
// the process. No Firecracker binary can be installed on the project's
// machines, so drivers are tested against this fake. Run it as a process with
// Main (cmd/fcfake, or a test binary re-executed through WriteWrapper).
package fcfake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Console lines of the fake guest, for tests to wait on.
const (
	// ReadyMarker: the guest's vsock listeners accept connections.
	ReadyMarker = "fcfake login: guest ready"
	// ShutdownMarker: the guest reset after Ctrl-Alt-Del (reboot=k).
	ShutdownMarker = "[    1.000000] reboot: Restarting system"
)

// DefaultMaxBody is Firecracker's default --http-api-max-payload-size.
const DefaultMaxBody = 51200

// Config drives one fake VMM.
type Config struct {
	ID      string
	MaxBody int
	// Console receives what the guest writes on its serial port (the real
	// VMM's stdout).
	Console io.Writer
	// EchoPorts are the guest vsock ports with a listener that echoes.
	EchoPorts []uint32
	// GuestReadyDelay is how long after InstanceStart the guest listeners
	// come up; before that, CONNECT is answered by closing the connection.
	GuestReadyDelay time.Duration
	// IgnoreCtrlAltDel: SendCtrlAltDel is accepted but the guest never
	// resets, as with a guest lacking i8042 support.
	IgnoreCtrlAltDel bool
	// Exit ends the VMM process (the guest reset after Ctrl-Alt-Del, a
	// failed snapshot load). Tests running in-process record it instead.
	Exit func(code int)
}

// Server is the fake's API and guest state. Requests are serialised, as in
// Firecracker's single API thread.
type Server struct {
	cfg  Config
	spec *Spec

	mu       sync.Mutex
	started  bool
	paused   bool
	exiting  bool
	machine  machineConfig
	boot     *bootSource
	drives   []drive
	nets     []netIf
	vsock    *vsockConfig
	mux      *vsockMux
	mmds     any
	readyAt  time.Time
	requests []string
}

type machineConfig struct {
	VcpuCount       int    `json:"vcpu_count"`
	MemSizeMib      int    `json:"mem_size_mib"`
	Smt             bool   `json:"smt"`
	TrackDirtyPages bool   `json:"track_dirty_pages"`
	HugePages       string `json:"huge_pages,omitempty"`
	CPUTemplate     string `json:"cpu_template,omitempty"`
}

type bootSource struct {
	KernelImagePath string `json:"kernel_image_path"`
	InitrdPath      string `json:"initrd_path,omitempty"`
	BootArgs        string `json:"boot_args,omitempty"`
}

type drive struct {
	DriveID      string `json:"drive_id"`
	IsRootDevice bool   `json:"is_root_device"`
	IsReadOnly   *bool  `json:"is_read_only,omitempty"`
	PathOnHost   string `json:"path_on_host,omitempty"`
	PartUUID     string `json:"partuuid,omitempty"`
	CacheType    string `json:"cache_type,omitempty"`
	IoEngine     string `json:"io_engine,omitempty"`
	Socket       string `json:"socket,omitempty"`
	RateLimiter  any    `json:"rate_limiter,omitempty"`
}

type netIf struct {
	IfaceID       string `json:"iface_id"`
	HostDevName   string `json:"host_dev_name"`
	GuestMAC      string `json:"guest_mac,omitempty"`
	MTU           int    `json:"mtu,omitempty"`
	RxRateLimiter any    `json:"rx_rate_limiter,omitempty"`
	TxRateLimiter any    `json:"tx_rate_limiter,omitempty"`
}

type vsockConfig struct {
	GuestCID uint32 `json:"guest_cid"`
	UDSPath  string `json:"uds_path"`
	VsockID  string `json:"vsock_id,omitempty"`
}

// Fault messages of Firecracker v1.16.1 (src/firecracker/src/api_server/
// parsed_request.rs and vmm/src/rpc_interface.rs).
const (
	msgPostBoot = "The requested operation is not supported after starting the microVM."
	msgPreBoot  = "The requested operation is not supported before starting the microVM."
	msgNoKernel = "Cannot start microvm without kernel configuration."
)

// NewServer returns a fake in the "Not started" state.
func NewServer(cfg Config, spec *Spec) *Server {
	if cfg.MaxBody == 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.Console == nil {
		cfg.Console = io.Discard
	}
	if cfg.Exit == nil {
		cfg.Exit = os.Exit
	}
	return &Server{
		cfg:     cfg,
		spec:    spec,
		machine: machineConfig{VcpuCount: 1, MemSizeMib: 128, HugePages: "None"},
	}
}

// Requests lists "METHOD /path" of every request received, in order.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

// Close releases the vsock listener (the process ending does the same).
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mux != nil {
		s.mux.close()
	}
}

func fault(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	b, _ := json.Marshal(map[string]string{"fault_message": msg})
	_, _ = w.Write(b)
}

func reply(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// ServeHTTP implements the API. Bodies are read only through
// Content-Length, as Firecracker's micro_http does: a chunked body counts
// as no body at all.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, r.Method+" "+r.URL.Path)

	var body []byte
	if r.ContentLength > 0 && len(r.TransferEncoding) == 0 {
		if r.ContentLength > int64(s.cfg.MaxBody) {
			w.Header().Set("Connection", "close")
			fault(w, fmt.Sprintf("Request payload with size %d is larger than the limit of %d allowed by server.", r.ContentLength, s.cfg.MaxBody))
			return
		}
		b, err := io.ReadAll(io.LimitReader(r.Body, r.ContentLength))
		if err != nil {
			fault(w, "reading body: "+err.Error())
			return
		}
		body = b
	} else if len(r.TransferEncoding) > 0 {
		// micro_http would read the chunk framing as the next request.
		w.Header().Set("Connection", "close")
	}

	switch {
	case r.Method == http.MethodGet && body != nil:
		fault(w, "GET request cannot have a body.")
		return
	case r.Method == http.MethodPut && body == nil:
		fault(w, "Empty PUT request.")
		return
	case r.Method == http.MethodPatch && body == nil:
		fault(w, "Empty PATCH request.")
		return
	}

	op, params, ok := s.spec.Route(r.Method, r.URL.Path)
	if !ok {
		tok, _, _ := strings.Cut(strings.TrimLeft(r.URL.Path, "/"), "/")
		fault(w, fmt.Sprintf("Invalid request method and/or path: %s %s.", r.Method, tok))
		return
	}
	for _, v := range params {
		if err := checkedID(v); err != "" {
			fault(w, err)
			return
		}
	}
	if op.HasBody() {
		if err := op.ValidateBody(body); err != nil {
			fault(w, fmt.Sprintf("An error occurred when deserializing the json body of a request: %v.", err))
			return
		}
	}
	s.dispatch(w, r.Method+" "+op.Template, params, body)
}

var idRE = regexp.MustCompile(`^[\pL\pN_]+$`)

// checkedID mirrors parsed_request.rs checked_id for path ids.
func checkedID(id string) string {
	if id == "" {
		return "The ID cannot be empty."
	}
	if !idRE.MatchString(id) {
		return "API Resource IDs can only contain alphanumeric characters and underscores."
	}
	return ""
}

// phase of an operation: where Firecracker's PrebootApiController or
// RuntimeApiController refuses it.
type phase int

const (
	anyTime phase = iota
	preBoot
	postBoot
)

var phases = map[string]phase{
	"PUT /boot-source":                     preBoot,
	"PUT /cpu-config":                      preBoot,
	"PUT /drives/{drive_id}":               preBoot,
	"PUT /pmem/{id}":                       preBoot,
	"PUT /logger":                          preBoot,
	"PUT /machine-config":                  preBoot,
	"PATCH /machine-config":                preBoot,
	"PUT /metrics":                         preBoot,
	"PUT /mmds/config":                     preBoot,
	"PUT /entropy":                         preBoot,
	"PUT /serial":                          preBoot,
	"PUT /hotplug/memory":                  preBoot,
	"PUT /network-interfaces/{iface_id}":   preBoot,
	"PUT /snapshot/load":                   preBoot,
	"PUT /vsock":                           preBoot,
	"PUT /balloon":                         preBoot,
	"PATCH /drives/{drive_id}":             postBoot,
	"PATCH /pmem/{id}":                     postBoot,
	"PATCH /network-interfaces/{iface_id}": postBoot,
	"PATCH /vm":                            postBoot,
	"PUT /snapshot/create":                 postBoot,
	"PATCH /balloon":                       postBoot,
	"PATCH /balloon/statistics":            postBoot,
	"PATCH /balloon/hinting/start":         postBoot,
	"PATCH /balloon/hinting/stop":          postBoot,
	"GET /balloon/statistics":              postBoot,
	"GET /balloon/hinting/status":          postBoot,
	"PATCH /hotplug/memory":                postBoot,
}

func (s *Server) dispatch(w http.ResponseWriter, key string, params map[string]string, body []byte) {
	switch phases[key] {
	case preBoot:
		if s.started {
			fault(w, msgPostBoot)
			return
		}
	case postBoot:
		if !s.started {
			fault(w, msgPreBoot)
			return
		}
	}
	if msg := s.apply(w, key, params, body); msg != "" {
		fault(w, msg)
	}
}

func (s *Server) state() string {
	switch {
	case !s.started:
		return "Not started"
	case s.paused:
		return "Paused"
	default:
		return "Running"
	}
}

func noContent(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) }

// apply performs one validated request; it returns a fault message or ""
// once it has answered.
func (s *Server) apply(w http.ResponseWriter, key string, params map[string]string, body []byte) string {
	switch key {
	case "GET /":
		reply(w, map[string]string{"id": s.cfg.ID, "state": s.state(), "vmm_version": s.spec.Version, "app_name": "Firecracker"})
	case "GET /version":
		reply(w, map[string]string{"firecracker_version": s.spec.Version})
	case "GET /machine-config":
		reply(w, s.machine)
	case "GET /vm/config":
		reply(w, s.fullConfig())
	case "GET /mmds":
		if s.mmds == nil {
			reply(w, map[string]any{})
		} else {
			reply(w, s.mmds)
		}
	case "PUT /machine-config", "PATCH /machine-config":
		return s.putMachine(w, key, body)
	case "PUT /boot-source":
		return s.putBoot(w, body)
	case "PUT /drives/{drive_id}":
		return s.putDrive(w, params["drive_id"], body)
	case "PUT /network-interfaces/{iface_id}":
		return s.putNet(w, params["iface_id"], body)
	case "PUT /vsock":
		return s.putVsock(w, body)
	case "PUT /actions":
		return s.action(w, body)
	case "PATCH /vm":
		var v struct {
			State string `json:"state"`
		}
		_ = json.Unmarshal(body, &v)
		s.paused = v.State == "Paused"
		noContent(w)
	case "PUT /mmds", "PATCH /mmds":
		var v any
		_ = json.Unmarshal(body, &v)
		s.mmds = v
		noContent(w)
	case "PUT /snapshot/load":
		// The fake cannot restore guests; a failed load ends the real
		// VMM too.
		fault(w, "Load snapshot error: fcfake cannot restore snapshots.")
		go func() { time.Sleep(50 * time.Millisecond); s.cfg.Exit(1) }()
	case "PUT /snapshot/create":
		if !s.paused {
			return "Create snapshot error: the microVM is not paused."
		}
		noContent(w)
	default:
		if strings.HasPrefix(key, "GET ") {
			return fmt.Sprintf("fcfake does not implement %s.", key)
		}
		// Accepted and ignored: logger, metrics, entropy, serial, ...
		noContent(w)
	}
	return ""
}

func (s *Server) fullConfig() map[string]any {
	cfg := map[string]any{
		"balloon":            nil,
		"drives":             orEmpty(s.drives),
		"boot-source":        s.boot,
		"cpu-config":         nil,
		"logger":             nil,
		"machine-config":     s.machine,
		"metrics":            nil,
		"mmds-config":        nil,
		"network-interfaces": orEmpty(s.nets),
		"vsock":              s.vsock,
		"entropy":            nil,
	}
	return cfg
}

func orEmpty[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}
