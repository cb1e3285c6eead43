package daemon_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"banger/internal/api"
	"banger/internal/client"
)

// execRun runs argv through the daemon with stdin and returns the outputs
// and the exit code.
func execRun(t *testing.T, c *client.Client, req api.ExecRequest, stdin []byte) (string, string, int) {
	t.Helper()
	s, err := c.Exec(ctxT(t), "dev", req)
	if err != nil {
		t.Fatalf("exec %v: %v", req.Argv, err)
	}
	defer s.Close()
	go func() {
		s.Write(stdin)
		s.CloseStdin()
	}()
	var out, errb bytes.Buffer
	st, err := s.Output(&out, &errb)
	if err != nil {
		t.Fatalf("exec %v: %v", req.Argv, err)
	}
	return out.String(), errb.String(), st.Code
}

func TestExecStreamsAndExitCodes(t *testing.T) {
	e := newAgentEnv(t)
	for _, tc := range []struct {
		script string
		code   int
	}{{"echo out; echo err >&2", 0}, {"exit 1", 1}, {"kill -KILL $$", 137}} {
		out, errb, code := execRun(t, e.c, api.ExecRequest{Argv: []string{"sh", "-c", tc.script}}, nil)
		if code != tc.code {
			t.Errorf("%q exited %d, want %d", tc.script, code, tc.code)
		}
		if tc.code == 0 && (out != "out\n" || errb != "err\n") {
			t.Errorf("%q: stdout %q stderr %q; want them apart", tc.script, out, errb)
		}
	}
	// Binary-safe stdin and stdout, larger than any frame.
	in := make([]byte, 3<<20)
	rand.Read(in)
	out, _, code := execRun(t, e.c, api.ExecRequest{Argv: []string{"cat"}}, in)
	if code != 0 || sha256.Sum256([]byte(out)) != sha256.Sum256(in) {
		t.Fatalf("cat returned %d bytes (exit %d), want the %d bytes sent", len(out), code, len(in))
	}
	out, _, _ = execRun(t, e.c, api.ExecRequest{Argv: []string{"sh", "-c", "test -t 0 && test -t 1 && echo tty:$COLUMNS; pwd; echo $FOO"},
		TTY: true, Rows: 30, Cols: 101, Cwd: "/tmp", Env: []string{"FOO=bar", "COLUMNS=101"}}, nil)
	if !strings.Contains(out, "tty:101") || !strings.Contains(out, "/tmp") || !strings.Contains(out, "bar") {
		t.Errorf("tty exec printed %q; want a tty, cwd /tmp and FOO", out)
	}
}

func TestExecBadInput(t *testing.T) {
	e := newAgentEnv(t)
	for _, tc := range []struct {
		vm   string
		req  api.ExecRequest
		code api.Code
		msg  string
	}{
		{"dev", api.ExecRequest{}, api.CodeInvalidArgument, "no command"},
		{"dev", api.ExecRequest{Argv: []string{"true"}, Env: []string{"NOEQUALS"}}, api.CodeInvalidArgument, "NOEQUALS"},
		{"dev", api.ExecRequest{Argv: []string{"no-such-command-x"}}, api.CodeInvalidArgument, "no-such-command-x"},
		{"dev", api.ExecRequest{Argv: []string{"true"}, Cwd: "/no/such/dir"}, api.CodeInvalidArgument, "/no/such/dir"},
		{"nope", api.ExecRequest{Argv: []string{"true"}}, api.CodeNotFound, "nope"},
		{"off", api.ExecRequest{Argv: []string{"true"}}, api.CodeConflict, "stopped"},
	} {
		_, err := e.c.Exec(ctxT(t), tc.vm, tc.req)
		var ae *api.Error
		if !errors.As(err, &ae) || ae.Code != tc.code || !strings.Contains(ae.Error(), tc.msg) {
			t.Errorf("exec %s %+v = %v; want %s mentioning %q", tc.vm, tc.req, err, tc.code, tc.msg)
		}
	}
}

// A client that vanishes hangs up its exec: the process gets SIGHUP.
func TestExecClientVanishingHangsUp(t *testing.T) {
	e := newAgentEnv(t)
	s, err := e.c.Exec(ctxT(t), "dev", api.ExecRequest{Argv: []string{"sh", "-c", "echo $$; exec sleep 600"}})
	if err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	go s.Output(out, out)
	out.WaitFor(t, "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(out.String()))
	if err != nil {
		t.Fatalf("reading pid: %v (%q)", err, out.String())
	}
	s.Close()
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("process %d still runs after its client went away", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
