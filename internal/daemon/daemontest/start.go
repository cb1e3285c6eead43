package daemontest

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"banger/internal/config"
	"banger/internal/daemon"
)

// Start serves a daemon with deps (Store defaults to a new empty *Store)
// on a socket in a fresh temporary directory and returns the socket path.
// The daemon stops, and its socket disappears, when the test ends.
func Start(t testing.TB, deps daemon.Deps) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "banger-daemon-") // short: sun_path is 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "run", "banger.sock")
	return StartAt(t, sock, "", deps)
}

// StartAt is Start on a given socket path and socket group. The daemon's
// state directory is the socket's directory.
func StartAt(t testing.TB, sock, group string, deps daemon.Deps) string {
	t.Helper()
	if deps.Store == nil {
		deps.Store = &Store{}
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	cfg := config.Config{Socket: sock, StateDir: filepath.Dir(sock)}
	d, err := daemon.New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := daemon.Listen(sock, group)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("daemon stopped with error: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("daemon did not stop within 15s")
		}
		if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("socket %s left behind after shutdown (err %v)", sock, err)
		}
	})
	return sock
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
