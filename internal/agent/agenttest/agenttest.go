// Package agenttest holds what tests of the guest agent's host side need
// around an in-process agent: a stream pair to serve it on, cleanup of the
// session processes it starts, and output buffers to wait on.
package agenttest

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// SocketPair returns the two ends of a connected unix stream socket pair
// (the host end first).
func SocketPair(t testing.TB) (hostEnd, guestEnd net.Conn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) net.Conn {
		f := os.NewFile(uintptr(fd), "socketpair")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	return conn(fds[0]), conn(fds[1])
}

// KillSessions kills every supervisor and session process group recorded
// under an agent's state dir, so no test leaves processes behind.
func KillSessions(stateDir string) {
	metas, _ := filepath.Glob(filepath.Join(stateDir, "sessions", "*", "meta.json"))
	for _, p := range metas {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var m struct {
			PID           int `json:"pid"`
			SupervisorPID int `json:"supervisor_pid"`
		}
		if json.Unmarshal(b, &m) != nil {
			continue
		}
		if m.PID > 0 {
			syscall.Kill(-m.PID, syscall.SIGKILL)
		}
		if m.SupervisorPID > 0 {
			syscall.Kill(m.SupervisorPID, syscall.SIGKILL)
		}
	}
}

// Context is a context bounded to a minute and to the test.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Buffer collects output written from another goroutine.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// WaitFor waits up to 20 s for sub to appear in the output.
func (s *Buffer) WaitFor(t testing.TB, sub string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(s.String(), sub) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %q in %q", sub, s.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
