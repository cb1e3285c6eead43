package daemon_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"banger/internal/agent/guest"
	"banger/internal/agent/host"
	"banger/internal/client"
	"banger/internal/daemon"
	"banger/internal/daemon/daemontest"
	"banger/internal/store"
)

// superviseArg makes the test binary act as `banger-agent supervise DIR`
// (checked in init, before TestMain), so sessions run under a real
// supervisor process as in a guest.
const superviseArg = "banger-daemon-test-supervise"

func init() {
	if len(os.Args) == 3 && os.Args[1] == superviseArg {
		if err := guest.Supervise(os.Args[2]); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
}

// agentVMs is the daemon's VMService over the store plus Agents: every
// running VM's agent is one in-process guest server.
type agentVMs struct {
	daemon.StoreVMs
	mu     sync.Mutex
	client *host.Client
	dial   func() (*host.Client, error)
}

func (a *agentVMs) Agent(ctx context.Context, name string) (*host.Client, error) {
	if _, err := a.Get(ctx, name); err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.client != nil {
		select {
		case <-a.client.Done():
		default:
			return a.client, nil
		}
	}
	c, err := a.dial()
	if err != nil {
		return nil, err
	}
	a.client = c
	return c, nil
}

// agentEnv is a daemon over a real store with a running VM "dev", a
// stopped VM "off", and an in-process agent behind "dev".
type agentEnv struct {
	c        *client.Client
	st       *store.Store
	vm       *store.VM
	stateDir string
}

func newAgentEnv(t *testing.T) *agentEnv {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "banger.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	vm := &store.VM{Name: "dev", State: store.VMRunning}
	if err := st.CreateVM(ctx, vm); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateVM(ctx, &store.VM{Name: "off", State: store.VMStopped}); err != nil {
		t.Fatal(err)
	}
	stateDir := t.TempDir()
	t.Cleanup(func() { killSessions(stateDir) })
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := guest.New(guest.Config{StateDir: stateDir, Version: "test", SupervisorCommand: []string{exe, superviseArg}})
	if err != nil {
		t.Fatal(err)
	}

	sctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	vms := &agentVMs{StoreVMs: daemon.StoreVMs{Store: st}}
	vms.dial = func() (*host.Client, error) {
		hostEnd, guestEnd := socketpair(t)
		wg.Add(1)
		go func() { defer wg.Done(); srv.ServeStream(sctx, guestEnd, false) }()
		dctx, dcancel := context.WithTimeout(sctx, 10*time.Second)
		defer dcancel()
		return host.Dial(dctx, func(context.Context) (net.Conn, error) { return hostEnd, nil })
	}
	t.Cleanup(func() {
		vms.mu.Lock()
		if vms.client != nil {
			vms.client.Close()
		}
		vms.mu.Unlock()
		cancel()
		wg.Wait()
	})
	sock := daemontest.Start(t, daemon.Deps{Store: st, VMs: vms})
	return &agentEnv{c: client.New(sock), st: st, vm: vm, stateDir: stateDir}
}
