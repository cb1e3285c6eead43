package daemon_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"banger/internal/api"
	"banger/internal/client"
)

const readEcho = "read x; echo got:$x; sleep 600"

func startSession(t *testing.T, c *client.Client, name, script string) *api.Session {
	t.Helper()
	s, err := c.StartSession(ctxT(t), "dev", api.StartSessionRequest{Name: name,
		ExecRequest: api.ExecRequest{Argv: []string{"sh", "-c", script}, Env: []string{"SECRET=hunter2"}}})
	if err != nil {
		t.Fatal(err)
	}
	if s.State != api.SessionRunning {
		t.Fatalf("started session is %+v", s)
	}
	return s
}

func attach(t *testing.T, c *client.Client, id string) (*client.Stream, *syncBuffer, *syncBuffer, chan int) {
	t.Helper()
	s, _, err := c.Attach(ctxT(t), "dev", id)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	out, errb := &syncBuffer{}, &syncBuffer{}
	code := make(chan int, 1)
	go func() {
		st, err := s.Output(out, errb)
		if err != nil {
			code <- -1000
			return
		}
		code <- st.Code
	}()
	return s, out, errb, code
}

func TestSessionLifecycle(t *testing.T) {
	e := newAgentEnv(t)
	s := startSession(t, e.c, "work", readEcho)

	// Recorded in the store without env values.
	row, err := e.st.GetSession(context.Background(), e.vm.ID, "work")
	if err != nil || row.ID != s.ID || !slices.Equal(row.EnvKeys, []string{"SECRET"}) {
		t.Fatalf("store row = %+v, %v", row, err)
	}
	if l, err := e.c.ListSessions(ctxT(t), ""); err != nil || len(l) != 1 || l[0].VM != "dev" || l[0].Name != "work" {
		t.Fatalf("ls = %+v, %v", l, err)
	}

	// Two attachers see the same output; input from one reaches the process.
	a1, out1, _, code1 := attach(t, e.c, "work")
	_, out2, _, _ := attach(t, e.c, s.ID)
	if _, err := a1.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	out1.WaitFor(t, "got:hello")
	out2.WaitFor(t, "got:hello")

	// Detaching leaves the session running.
	a1.Close()
	if code := <-code1; code != -1000 {
		t.Errorf("detached attacher saw exit %d", code)
	}
	if got, err := e.c.GetSession(ctxT(t), "dev", "work"); err != nil || got.State != api.SessionRunning {
		t.Fatalf("after detach: %+v, %v", got, err)
	}

	// A late attacher gets the scrollback.
	_, out3, _, code3 := attach(t, e.c, "work")
	out3.WaitFor(t, "got:hello")

	stopped, err := e.c.StopSession(ctxT(t), "dev", "work", 5*time.Second)
	if err != nil || stopped.State != api.SessionExited || stopped.ExitCode == nil || *stopped.ExitCode != 143 || stopped.Signal != "TERM" {
		t.Fatalf("stop = %+v, %v; want exited 143 TERM", stopped, err)
	}
	if code := <-code3; code != 143 {
		t.Errorf("attacher saw exit %d, want 143", code)
	}
	// The store follows, and an ended session still replays with its code.
	if row, _ := e.st.GetSession(context.Background(), e.vm.ID, s.ID); row.ExitCode == nil || *row.ExitCode != 143 {
		t.Errorf("store after stop: %+v", row)
	}
	var out bytes.Buffer
	st, err := e.c.SessionLogs(ctxT(t), "dev", "work", false, &out, &out)
	if err != nil || st == nil || st.Code != 143 || !strings.Contains(out.String(), "got:hello") {
		t.Errorf("logs = %q, %+v, %v", out.String(), st, err)
	}
	_, out4, _, code4 := attach(t, e.c, "work")
	if code := <-code4; code != 143 || !strings.Contains(out4.String(), "got:hello") {
		t.Errorf("attach to ended session: exit %d output %q", code, out4.String())
	}

	if err := e.c.RemoveSession(ctxT(t), "dev", "work", false); err != nil {
		t.Fatal(err)
	}
	wantAPIError(t, func() error { _, err := e.c.GetSession(ctxT(t), "dev", "work"); return err }, api.CodeNotFound, "work")
	if rows, _ := e.st.ListSessions(context.Background(), ""); len(rows) != 0 {
		t.Errorf("store after rm: %+v", rows)
	}
}

func TestSessionLogsStreamsApartAndFollow(t *testing.T) {
	e := newAgentEnv(t)
	startSession(t, e.c, "logs", "echo one; echo two >&2; read x; echo three; exit 3")
	var out, errb syncBuffer
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "one") && time.Now().Before(deadline) {
		out, errb = syncBuffer{}, syncBuffer{}
		st, err := e.c.SessionLogs(ctxT(t), "dev", "logs", false, &out, &errb)
		if err != nil || st != nil {
			t.Fatalf("logs of a running session = %+v, %v", st, err)
		}
	}
	if out.String() != "one\n" || errb.String() != "two\n" {
		t.Fatalf("logs: stdout %q stderr %q", out.String(), errb.String())
	}
	done := make(chan error, 1)
	var fout syncBuffer
	go func() {
		st, err := e.c.SessionLogs(ctxT(t), "dev", "logs", true, &fout, &fout)
		if err == nil && (st == nil || st.Code != 3) {
			err = errors.New("follow did not end with exit 3")
		}
		done <- err
	}()
	fout.WaitFor(t, "two")
	a, _, _, _ := attach(t, e.c, "logs")
	a.Write([]byte("x\n"))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(fout.String(), "three") {
		t.Errorf("followed logs %q lack the live line", fout.String())
	}
}

func TestSessionStartFailures(t *testing.T) {
	e := newAgentEnv(t)
	for _, req := range []api.StartSessionRequest{
		{ExecRequest: api.ExecRequest{Argv: []string{"true"}, Cwd: "/no/such/dir"}},
		{ExecRequest: api.ExecRequest{Argv: []string{"no-such-command-x"}}},
	} {
		wantAPIError(t, func() error { _, err := e.c.StartSession(ctxT(t), "dev", req); return err }, api.CodeInvalidArgument, "")
	}
	wantAPIError(t, func() error {
		_, err := e.c.StartSession(ctxT(t), "dev", api.StartSessionRequest{Name: "Bad Name", ExecRequest: api.ExecRequest{Argv: []string{"true"}}})
		return err
	}, api.CodeInvalidArgument, "Bad Name")
	wantAPIError(t, func() error {
		_, err := e.c.StartSession(ctxT(t), "off", api.StartSessionRequest{ExecRequest: api.ExecRequest{Argv: []string{"true"}}})
		return err
	}, api.CodeConflict, "off")
	if l, err := e.c.ListSessions(ctxT(t), "dev"); err != nil || len(l) != 0 {
		t.Fatalf("after failed starts: ls = %+v, %v; want nothing recorded", l, err)
	}

	// A command that dies at once reports its code and stderr at start.
	s, err := e.c.StartSession(ctxT(t), "dev", api.StartSessionRequest{
		ExecRequest: api.ExecRequest{Argv: []string{"sh", "-c", "echo cannot start >&2; exit 7"}}})
	if err != nil {
		t.Fatal(err)
	}
	if s.State != api.SessionExited || s.ExitCode == nil || *s.ExitCode != 7 || !slices.Contains(s.Diagnostics, "cannot start") {
		t.Fatalf("start of a dying command = %+v", s)
	}
	startSession(t, e.c, "dup", "sleep 600")
	wantAPIError(t, func() error {
		_, err := e.c.StartSession(ctxT(t), "dev", api.StartSessionRequest{Name: "dup", ExecRequest: api.ExecRequest{Argv: []string{"true"}}})
		return err
	}, api.CodeConflict, "dup")
	wantAPIError(t, func() error { return e.c.RemoveSession(ctxT(t), "dev", "dup", false) }, api.CodeConflict, "dup")
	if err := e.c.RemoveSession(ctxT(t), "dev", "dup", true); err != nil {
		t.Fatal(err)
	}
	wantAPIError(t, func() error { _, err := e.c.SignalSession(ctxT(t), "dev", "nope", "TERM"); return err }, api.CodeNotFound, "nope")
}

// Sessions of a stopped VM come from the store and show as lost.
func TestSessionsOfStoppedVM(t *testing.T) {
	e := newAgentEnv(t)
	startSession(t, e.c, "work", "sleep 600")
	e.vm.State = "stopped"
	if err := e.st.UpdateVM(context.Background(), e.vm); err != nil {
		t.Fatal(err)
	}
	l, err := e.c.ListSessions(ctxT(t), "dev")
	if err != nil || len(l) != 1 || l[0].State != api.SessionLost || !l[0].Stale {
		t.Fatalf("ls of a stopped VM = %+v, %v", l, err)
	}
	wantAPIError(t, func() error { _, _, err := e.c.Attach(ctxT(t), "dev", "work"); return err }, api.CodeConflict, "stopped")
}

func wantAPIError(t *testing.T, f func() error, code api.Code, msg string) {
	t.Helper()
	err := f()
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != code || !strings.Contains(ae.Error(), msg) {
		t.Errorf("got %v; want %s mentioning %q", err, code, msg)
	}
}
