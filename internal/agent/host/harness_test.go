package host_test

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	"banger/internal/agent/guest"
	"banger/internal/agent/host"
)

// The test binary doubles as `banger-agent supervise DIR`, like os/exec's
// helper-process tests, so sessions run under a real supervisor process.
func TestMain(m *testing.M) {
	if len(os.Args) == 3 && os.Args[1] == "supervise" {
		if err := guest.Supervise(os.Args[2]); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func newServer(t testing.TB, stateDir string) *guest.Server {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := guest.New(guest.Config{StateDir: stateDir, Version: "test-1", SupervisorCommand: []string{exe, "supervise"}})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// serve runs srv on a fresh stream and returns a client for it. Stopping
// (at cleanup, or by calling the returned func) ends the server side.
func serve(t testing.TB, srv *guest.Server) (*host.Client, func()) {
	t.Helper()
	hostEnd, guestEnd := socketpair(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.ServeStream(ctx, guestEnd, false)
	}()
	dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
	defer dcancel()
	c, err := host.Dial(dctx, func(context.Context) (net.Conn, error) { return hostEnd, nil })
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	stop := func() {
		c.Close()
		cancel()
		<-done
	}
	t.Cleanup(stop)
	return c, stop
}

// newAgent is a server on a fresh state dir plus a client; sessions it
// leaves running are killed at cleanup.
func newAgent(t testing.TB) (*host.Client, string) {
	t.Helper()
	dir := t.TempDir()
	t.Cleanup(func() { killSessions(dir) })
	c, _ := serve(t, newServer(t, dir))
	return c, dir
}
