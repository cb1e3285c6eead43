package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// attacher is a running `banger vm session attach` in pipe mode.
type attacher struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *lockedBuffer
	errb   *lockedBuffer
	done   chan error
	cancel context.CancelFunc
}

func (e *env) attach(t *testing.T, vm, session string) *attacher {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	a := &attacher{out: &lockedBuffer{}, errb: &lockedBuffer{}, done: make(chan error, 1), cancel: cancel}
	a.cmd = e.command(ctx, "vm", "session", "attach", vm, session)
	a.cmd.Stdout, a.cmd.Stderr = a.out, a.errb
	var err error
	if a.stdin, err = a.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { a.done <- a.cmd.Wait() }()
	t.Cleanup(func() { a.cmd.Process.Kill(); cancel() })
	return a
}

func (a *attacher) waitFor(t *testing.T, sub string) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for !strings.Contains(a.out.String(), sub) {
		select {
		case err := <-a.done:
			a.done <- err
			if !strings.Contains(a.out.String(), sub) {
				t.Fatalf("attach ended (%v) without %q: stdout %q stderr %q", err, sub, a.out.String(), a.errb.String())
			}
		case <-deadline:
			t.Fatalf("attach never printed %q: stdout %q stderr %q", sub, a.out.String(), a.errb.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// detach sends SIGINT (detach in pipe mode) and expects a clean exit.
func (a *attacher) detach(t *testing.T) {
	t.Helper()
	a.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-a.done:
		if err != nil {
			t.Errorf("detaching: %v (stderr %q)", err, a.errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("attach did not detach on SIGINT")
	}
}

type sessionView struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	State    string `json:"state"`
	ExitCode *int   `json:"exit_code"`
	Signal   string `json:"signal"`
	Stale    bool   `json:"stale"`
}

// sessions lists a VM's sessions by name (id when unnamed) once the guest
// answers (no stale record).
func (e *env) sessions(t *testing.T, vm string) map[string]sessionView {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		var l []sessionView
		if err := json.Unmarshal([]byte(e.run("vm", "session", "ls", vm, "-o", "json")), &l); err != nil {
			t.Fatal(err)
		}
		m := map[string]sessionView{}
		stale := false
		for _, s := range l {
			key := s.Name
			if key == "" {
				key = s.ID
			}
			m[key] = s
			stale = stale || s.Stale
		}
		if !stale {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("session ls stayed stale: %+v", l)
		}
		time.Sleep(time.Second)
	}
}

func TestSessions(t *testing.T) {
	e := newEnv(t)
	e.agentVM("se")

	t.Run("preflight and launch diagnostics", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			code int
			want string
		}{
			{[]string{"--cwd", "/no/such", "--", "true"}, 1, "/no/such"},
			{[]string{"--", "no-such-command-x"}, 1, "no-such-command-x"},
			{[]string{"--env", "=x", "--", "true"}, 2, "=x"},
			{[]string{"--name", "Bad Name", "--", "true"}, 1, "Bad Name"},
			{[]string{"--", "sh", "-c", "echo oops-at-start >&2; exit 3"}, 1, "oops-at-start"},
		} {
			r := e.execIn(t, nil, append([]string{"vm", "session", "start", "se"}, tc.args...)...)
			if r.code != tc.code || !strings.Contains(string(r.stderr), tc.want) {
				t.Errorf("start %q: exit %d stderr %q; want %d mentioning %q", tc.args, r.code, r.stderr, tc.code, tc.want)
			}
		}
		if r := e.execIn(t, nil, "vm", "session", "start", "se", "--", "sh", "-c", "exit 3"); !strings.Contains(string(r.stderr), "code 3") {
			t.Errorf("dying command: stderr %q lacks its exit code", r.stderr)
		}
		for name, s := range e.sessions(t, "se") {
			if s.State == "running" {
				t.Errorf("a failed start left running session %s: %+v", name, s)
			}
		}
		for _, bad := range [][]string{{"attach", "se", "nope"}, {"show", "nope", "x"}, {"stop", "se", "nope"}} {
			if r := e.execIn(t, nil, append([]string{"vm", "session"}, bad...)...); r.code == 0 || !strings.Contains(string(r.stderr), "nope") {
				t.Errorf("session %q: exit %d stderr %q", bad, r.code, r.stderr)
			}
		}
	})

	e.run("vm", "session", "start", "se", "--name", "rd", "--", "sh", "-c", "read x; echo got:$x; sleep 600")
	e.run("vm", "session", "start", "se", "--name", "chatty", "--", "sh", "-c", "for i in 1 2 3; do echo line$i; done; echo err1 >&2; sleep 600")

	t.Run("scrollback replay", func(t *testing.T) {
		a := e.attach(t, "se", "chatty")
		a.waitFor(t, "line1\nline2\nline3\n")
		a.detach(t)
		if strings.Contains(a.out.String(), "err1") {
			t.Errorf("stderr leaked into stdout: %q", a.out.String())
		}
		r := e.execIn(t, nil, "vm", "session", "logs", "se", "chatty")
		if string(r.stdout) != "line1\nline2\nline3\n" || string(r.stderr) != "err1\n" {
			t.Errorf("logs: stdout %q stderr %q", r.stdout, r.stderr)
		}
	})

	t.Run("daemon SIGKILL and restart", func(t *testing.T) {
		a := e.attach(t, "se", "rd")
		time.Sleep(time.Second)
		a.detach(t)
		e.stopDaemon(syscall.SIGKILL)
		e.startDaemon()
		if s := e.sessions(t, "se")["rd"]; s.State != "running" {
			t.Fatalf("after daemon restart rd is %+v", s)
		}
		a1, a2 := e.attach(t, "se", "rd"), e.attach(t, "se", "rd")
		time.Sleep(2 * time.Second) // both attached before the line
		if _, err := io.WriteString(a1.stdin, "hello\n"); err != nil {
			t.Fatal(err)
		}
		a1.waitFor(t, "got:hello")
		a2.waitFor(t, "got:hello")
		a1.detach(t)
		a2.detach(t)
	})

	t.Run("agent restart keeps sessions", func(t *testing.T) {
		// Restart the agent a second after this exec has returned: an exec
		// that restarts its own agent may lose its exit status.
		// Count the agent's starts over SSH, which does not depend on it.
		starts := func() int {
			out, err := e.try("vm", "ssh", "se", "--", "journalctl -u banger-agent --no-pager | grep -c 'Started banger-agent' || true")
			if err != nil {
				t.Fatal(err)
			}
			n, _ := strconv.Atoi(strings.TrimSpace(out))
			return n
		}
		before := starts()
		// A timer's default accuracy is a minute: ask for the second.
		if _, err := e.try("vm", "exec", "se", "--", "systemd-run", "--on-active=1", "--timer-property=AccuracySec=10ms",
			"--unit=restart-agent-test", "systemctl", "restart", "banger-agent"); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(90 * time.Second); starts() <= before; {
			if time.Now().After(deadline) {
				t.Fatal("the guest agent was not restarted within 90 s")
			}
			time.Sleep(time.Second)
		}
		// The daemon re-dials the restarted agent: a request caught on the
		// old connection may fail once, the next ones work.
		var err error
		for i := 0; i < 10; i++ {
			if _, err = e.try("vm", "exec", "se", "--", "true"); err == nil {
				break
			}
			time.Sleep(time.Second)
		}
		if err != nil {
			t.Fatalf("exec after the agent restart: %v", err)
		}
		l := e.sessions(t, "se")
		if l["rd"].State != "running" || l["chatty"].State != "running" {
			t.Fatalf("after agent restart: %+v", l)
		}
		r := e.execIn(t, nil, "vm", "session", "logs", "se", "rd")
		if !strings.Contains(string(r.stdout), "got:hello") {
			t.Errorf("scrollback lost in agent restart: %q (stderr %q)", r.stdout, r.stderr)
		}
		a := e.attach(t, "se", "chatty")
		a.waitFor(t, "line3")
		a.detach(t)
	})

	t.Run("stop reports the signal", func(t *testing.T) {
		a := e.attach(t, "se", "rd")
		a.waitFor(t, "got:hello")
		out := e.run("vm", "session", "stop", "se", "rd", "--timeout", "5s")
		if !strings.Contains(out, "143 (TERM)") {
			t.Errorf("stop printed %q, want exit 143 (TERM)", out)
		}
		select {
		case err := <-a.done:
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 143 {
				t.Errorf("attacher of a stopped session ended with %v, want exit 143", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("attacher did not end with the session")
		}
		if s := e.sessions(t, "se")["rd"]; s.State != "exited" || s.ExitCode == nil || *s.ExitCode != 143 || s.Signal != "TERM" {
			t.Errorf("after stop: %+v", s)
		}
		e.run("vm", "session", "kill", "se", "chatty", "--signal", "KILL")
		e.run("vm", "session", "rm", "se", "rd")
		e.run("vm", "session", "rm", "--force", "se", "chatty")
		if l := e.sessions(t, "se"); len(l["rd"].ID)+len(l["chatty"].ID) != 0 {
			t.Errorf("after rm: %+v", l)
		}
	})

	t.Run("20 sessions", func(t *testing.T) {
		for i := range 20 {
			if _, err := e.try("vm", "session", "start", "se", "--name", fmt.Sprintf("many%d", i), "--", "sh", "-c", fmt.Sprintf("echo ready-%d; sleep 600", i)); err != nil {
				out, _ := e.try("vm", "ssh", "se", "--", "journalctl -b --no-pager -n 60; free -m")
				t.Fatalf("%v\nguest journal:\n%s", err, out)
			}
		}
		l := e.sessions(t, "se")
		for i := range 20 {
			name := fmt.Sprintf("many%d", i)
			if l[name].State != "running" {
				t.Errorf("%s is %+v", name, l[name])
				continue
			}
			a := e.attach(t, "se", name)
			a.waitFor(t, fmt.Sprintf("ready-%d\n", i))
			a.detach(t)
		}
	})
}
