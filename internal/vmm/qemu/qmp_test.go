package qemu

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"
)

// fakeQMP is as strict as QEMU 7.2's monitor: greeting first, every
// command refused until qmp_capabilities, events interleaved with answers,
// one client at a time.
func fakeQMP(t *testing.T) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "qmp.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			serveFakeQMP(c) // one client at a time, like QEMU
		}
	}()
	return sock
}

func serveFakeQMP(c net.Conn) {
	defer c.Close()
	enc := json.NewEncoder(c)
	_ = enc.Encode(map[string]any{"QMP": map[string]any{"version": map[string]any{}, "capabilities": []string{"oob"}}})
	negotiated := false
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		var req struct {
			Execute string `json:"execute"`
		}
		if json.Unmarshal(sc.Bytes(), &req) != nil {
			_ = enc.Encode(map[string]any{"error": map[string]string{"class": "GenericError", "desc": "JSON parse error"}})
			continue
		}
		fail := func(desc string) {
			_ = enc.Encode(map[string]any{"error": map[string]string{"class": "CommandNotFound", "desc": desc}})
		}
		switch {
		case req.Execute == "qmp_capabilities":
			negotiated = true
			_ = enc.Encode(map[string]any{"return": map[string]any{}})
		case !negotiated:
			fail("Expecting capabilities negotiation with 'qmp_capabilities'")
		case req.Execute == "query-status":
			_ = enc.Encode(map[string]any{"event": "RESUME", "timestamp": map[string]int{"seconds": 1}})
			_ = enc.Encode(map[string]any{"return": map[string]any{"status": "running", "running": true}})
		case req.Execute == "system_powerdown":
			_ = enc.Encode(map[string]any{"event": "POWERDOWN", "timestamp": map[string]int{"seconds": 1}})
			_ = enc.Encode(map[string]any{"return": map[string]any{}})
		default:
			fail("The command " + req.Execute + " has not been found")
		}
	}
}

func TestQMPStatusSkipsEvents(t *testing.T) {
	sock := fakeQMP(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for range 2 { // sessions are short-lived: the second must get through
		st, err := qmpStatus(ctx, sock)
		if err != nil || st != "running" {
			t.Fatalf("qmpStatus = %q, %v; want running", st, err)
		}
	}
	if err := qmpDo(ctx, sock, "system_powerdown", nil, nil); err != nil {
		t.Fatalf("system_powerdown: %v", err)
	}
}

func TestQMPErrorAnswer(t *testing.T) {
	sock := fakeQMP(t)
	err := qmpDo(context.Background(), sock, "no-such-command", nil, nil)
	var qerr *QMPError
	if !errors.As(err, &qerr) || qerr.Class != "CommandNotFound" {
		t.Fatalf("err = %v, want a CommandNotFound QMPError", err)
	}
}

// TestQMPHonoursContext: a server that never greets must not hang callers.
func TestQMPHonoursContext(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "silent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			defer c.Close()
			time.Sleep(5 * time.Second)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	began := time.Now()
	if _, err := qmpStatus(ctx, sock); err == nil {
		t.Fatal("qmpStatus against a silent server succeeded")
	}
	if d := time.Since(began); d > 2*time.Second {
		t.Fatalf("qmpStatus took %v despite a 200ms deadline", d)
	}
}
