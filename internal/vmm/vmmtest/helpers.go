package vmmtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"banger/internal/vmm"
)

// checkAgent dials the agent channel until it works (the guest may still be
// booting) and, with an echoing guest, round-trips a token through it.
func checkAgent(t *testing.T, inst vmm.Instance, fx Fixture) {
	t.Helper()
	deadline := time.Now().Add(fx.bootTimeout())
	token := fmt.Sprintf("banger-echo-%d\n", time.Now().UnixNano())
	var lastErr error
	for attempt := 1; time.Now().Before(deadline); attempt++ {
		lastErr = tryAgent(inst, fx.AgentEcho, token)
		if lastErr == nil {
			t.Logf("agent channel answered after %d attempt(s)", attempt)
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("agent channel never worked: %v\nconsole tail:\n%s", lastErr,
		tail(readFile(inst.State().ConsoleLog), 2000))
}

func tryAgent(inst vmm.Instance, echo bool, token string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := inst.DialAgent(ctx)
	if err != nil {
		return fmt.Errorf("dialing agent: %w", err)
	}
	defer conn.Close()
	if !echo {
		return nil
	}
	if err := conn.SetDeadline(time.Now().Add(3 * time.Second)); err != nil {
		return err
	}
	if _, err := conn.Write([]byte(token)); err != nil {
		return fmt.Errorf("writing to agent: %w", err)
	}
	// Earlier attempts' tokens may still arrive first: read until ours.
	var got []byte
	buf := make([]byte, 4096)
	for !bytes.Contains(got, []byte(token)) {
		n, err := conn.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			return fmt.Errorf("reading echo (got %q): %w", got, err)
		}
	}
	return nil
}

// waitConsole waits until the console log holds marker ("" returns at once).
func waitConsole(t *testing.T, path, marker string, timeout time.Duration) {
	t.Helper()
	if marker == "" {
		return
	}
	deadline := time.Now().Add(timeout)
	for !strings.Contains(readFile(path), marker) {
		if time.Now().After(deadline) {
			t.Fatalf("console never showed %q; tail:\n%s", marker, tail(readFile(path), 2000))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// processesMentioning lists live processes (other than this one) whose
// command line mentions dir: what a VMM started for that run dir would show.
func processesMentioning(dir string) []int {
	var pids []int
	matches, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, m := range matches {
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(m)))
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(m)
		if err != nil || !bytes.Contains(b, []byte(dir)) {
			continue
		}
		if start, err := vmm.ProcStartTime(pid); err == nil && vmm.ProcessAlive(pid, start) {
			pids = append(pids, pid)
		}
	}
	return pids
}
