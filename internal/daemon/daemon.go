// Package daemon is banger's composition root on the host side: it serves
// the HTTP+JSON API (package api) on a unix socket and dispatches requests
// to the VM lifecycle, the store and the host network, each seen through a
// small interface declared here so that tests run against fakes.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"banger/internal/api"
	"banger/internal/config"
	"banger/internal/hostnet"
	"banger/internal/store"
)

// Store is the part of the store the daemon reads and deletes through.
// Implementations return errors wrapping store.ErrNotFound for unknown
// ids/names.
type Store interface {
	// GetVM finds a VM by id or name.
	GetVM(ctx context.Context, idOrName string) (*store.VM, error)
	ListVMs(ctx context.Context) ([]store.VM, error)
	// DeleteVM removes the row and its IP lease in one transaction. A
	// second call returns ErrNotFound.
	DeleteVM(ctx context.Context, id string) error
	GetImage(ctx context.Context, idOrName string) (*store.Image, error)
	ListImages(ctx context.Context) ([]store.Image, error)
	DeleteImage(ctx context.Context, id string) error
	GetKernel(ctx context.Context, idOrName string) (*store.Kernel, error)
	ListKernels(ctx context.Context) ([]store.Kernel, error)
	DeleteKernel(ctx context.Context, id string) error
}

var _ Store = (*store.Store)(nil)

// VMService runs VM operations. Today's implementation (StoreVMs) only
// knows the store; the VM lifecycle (internal/vm) replaces it and adds
// start/stop/kill/logs. Errors may be *api.Error to choose the answer
// precisely; otherwise store/vmm sentinels are mapped (see errorFor).
type VMService interface {
	// List returns every VM, in no particular order.
	List(ctx context.Context) ([]store.VM, error)
	// Get finds a VM by id or name.
	Get(ctx context.Context, idOrName string) (*store.VM, error)
	// Create validates and creates (and boots) a VM.
	Create(ctx context.Context, req api.CreateVMRequest) (*store.VM, error)
	// Remove deletes a VM and everything it holds (lease, disks). A running
	// VM is refused with ErrVMRunning unless force is set. Removing a VM
	// that does not exist returns ErrNotFound.
	Remove(ctx context.Context, idOrName string, force bool) error
}

// HostNetwork is what the daemon needs from hostnet.
type HostNetwork interface {
	// Teardown removes every recorded host network object and nothing
	// else. Idempotent: a second call finds nothing to remove.
	Teardown(ctx context.Context) error
}

// LeftoverLister is optionally implemented by a HostNetwork: it lists what
// still exists of banger's network, so a teardown can prove it is complete.
// Read-only.
type LeftoverLister interface {
	Leftovers(ctx context.Context) ([]hostnet.Object, error)
}

var (
	_ HostNetwork    = hostnet.Network(nil)
	_ LeftoverLister = (*hostnet.Linux)(nil)
)

// ErrVMRunning: the operation needs a stopped VM.
var ErrVMRunning = errors.New("VM is running")

// Deps are the daemon's collaborators. Store is required; VMs defaults to
// StoreVMs over Store; Network may be nil (no host network configured).
type Deps struct {
	Store   Store
	VMs     VMService
	Network HostNetwork
	// Catalog imports kernels and builds images; nil answers "unavailable".
	Catalog *Catalog
	// SSHKeyPath is the private key that logs into guests (vm ssh).
	SSHKeyPath string
	Logger     *slog.Logger // default: discard
	Version    string       // build version reported by GET /v1/version
	// ShutdownTimeout bounds how long Serve waits for requests in flight
	// once its context is cancelled (default 10s).
	ShutdownTimeout time.Duration
}

// Daemon serves the API. Construct with New.
type Daemon struct {
	cfg  config.Config
	deps Deps
	log  *slog.Logger
}

// New builds a daemon. It does not touch the host; Listen and Serve do.
func New(cfg config.Config, deps Deps) (*Daemon, error) {
	if deps.Store == nil {
		return nil, errors.New("creating daemon: no store given")
	}
	if deps.VMs == nil {
		deps.VMs = &StoreVMs{Store: deps.Store}
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if deps.Version == "" {
		deps.Version = "dev"
	}
	if deps.ShutdownTimeout == 0 {
		deps.ShutdownTimeout = 10 * time.Second
	}
	return &Daemon{cfg: cfg, deps: deps, log: deps.Logger}, nil
}

// Serve answers API requests on ln (a unix socket from Listen) until ctx
// is cancelled, then shuts down gracefully: no new connections, requests
// in flight get ShutdownTimeout to finish. VMs are not touched: they keep
// running and a later daemon re-adopts them. Serve closes ln (which
// removes the socket file) and returns nil after a clean shutdown.
func (d *Daemon) Serve(ctx context.Context, ln net.Listener) error {
	pol, err := policyFor(ln)
	if err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{
		Handler:           d.authorize(pol, d.routes()),
		ConnContext:       withPeer,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	d.log.Info("serving API", "socket", ln.Addr().String(), "version", d.deps.Version)

	select {
	case err := <-errc:
		return fmt.Errorf("serving API on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	d.log.Info("shutting down API; VMs keep running")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.deps.ShutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	<-errc // http.ErrServerClosed once Serve has returned
	if err != nil {
		return fmt.Errorf("shutting down API: %w", err)
	}
	return nil
}
