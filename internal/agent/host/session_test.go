package host_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"banger/internal/agent/host"
	"banger/internal/agent/proto"
)

const readEcho = "read x; echo got:$x; sleep 600"

func start(t *testing.T, c *host.Client, script string) proto.SessionInfo {
	t.Helper()
	info, err := c.StartSession(ctxT(t), proto.ExecRequest{Argv: []string{"sh", "-c", script}}, proto.StartRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if info.State != proto.StateRunning || info.PID == 0 {
		t.Fatalf("started session is %+v", info)
	}
	return info
}

func attach(t *testing.T, c *host.Client, id string) (*host.Process, *syncBuffer, *syncBuffer) {
	t.Helper()
	out, errb := &syncBuffer{}, &syncBuffer{}
	p, _, err := c.Attach(ctxT(t), id, out, errb)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, out, errb
}

func TestSessionAttachAndInput(t *testing.T) {
	c, _ := newAgent(t)
	s := start(t, c, readEcho)
	p, out, _ := attach(t, c, s.ID)
	if _, err := p.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	out.WaitFor(t, "got:hello")
}

func TestSessionScrollbackKeepsStreams(t *testing.T) {
	c, _ := newAgent(t)
	s := start(t, c, "echo one; echo two >&2; echo three; sleep 600")
	waitLog(t, c, s.ID, "three")
	_, out, errb := attach(t, c, s.ID)
	out.WaitFor(t, "one\nthree\n")
	errb.WaitFor(t, "two\n")
	if strings.Contains(out.String(), "two") || strings.Contains(errb.String(), "one") {
		t.Fatalf("streams mixed: stdout %q stderr %q", out.String(), errb.String())
	}
}

// waitLog polls with short attachments until the scrollback holds sub.
func waitLog(t *testing.T, c *host.Client, id, sub string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		out := &syncBuffer{}
		p, _, err := c.Attach(ctxT(t), id, out, out)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		p.Close()
		if strings.Contains(out.String(), sub) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("scrollback of %s never held %q: %q", id, sub, out.String())
		}
	}
}

func TestSessionTwoAttachers(t *testing.T) {
	c, _ := newAgent(t)
	s := start(t, c, readEcho)
	a, outA, _ := attach(t, c, s.ID)
	_, outB, _ := attach(t, c, s.ID)
	a.Write([]byte("both\n"))
	outA.WaitFor(t, "got:both")
	outB.WaitFor(t, "got:both")
}

func TestSessionStop(t *testing.T) {
	c, _ := newAgent(t)
	s := start(t, c, "sleep 600")
	p, _, _ := attach(t, c, s.ID)
	info, err := c.Signal(ctxT(t), s.ID, proto.SignalRequest{Stop: true, TimeoutMS: 5000})
	if err != nil {
		t.Fatal(err)
	}
	if info.State != proto.StateExited || info.Exit == nil || info.Exit.Code != 143 || info.Exit.Signal != "TERM" {
		t.Fatalf("after stop: %+v exit %+v", info, info.Exit)
	}
	if st, err := p.Wait(); err != nil || st.Code != 143 {
		t.Fatalf("attacher saw %+v %v", st, err)
	}
	if _, err := c.Signal(ctxT(t), s.ID, proto.SignalRequest{Signal: "TERM"}); !errors.Is(err, proto.ErrConflict) {
		t.Fatalf("signal to an ended session: %v", err)
	}
}

func TestSessionStopEscalatesToKill(t *testing.T) {
	c, _ := newAgent(t)
	s := start(t, c, `trap "" TERM; while :; do sleep 0.05; done`)
	info, err := c.Signal(ctxT(t), s.ID, proto.SignalRequest{Stop: true, TimeoutMS: 300})
	if err != nil {
		t.Fatal(err)
	}
	if info.Exit == nil || info.Exit.Code != 137 {
		t.Fatalf("exit %+v, want 137", info.Exit)
	}
}

func TestSessionSignal(t *testing.T) {
	c, _ := newAgent(t)
	s := start(t, c, `trap "echo caught; exit 5" USR1; while :; do sleep 0.05; done`)
	p, out, _ := attach(t, c, s.ID)
	if _, err := c.Signal(ctxT(t), s.ID, proto.SignalRequest{Signal: "USR1"}); err != nil {
		t.Fatal(err)
	}
	out.WaitFor(t, "caught")
	if st, err := p.Wait(); err != nil || st.Code != 5 {
		t.Fatalf("%+v %v", st, err)
	}
}

func TestSessionPreflight(t *testing.T) {
	c, _ := newAgent(t)
	for _, req := range []proto.ExecRequest{
		{Argv: []string{"sh", "-c", "true"}, Cwd: "/nonexistent/banger"},
		{Argv: []string{"no-such-command-banger"}},
		{Argv: []string{"sh"}, Env: []string{"PATH=/nonexistent"}},
	} {
		_, err := c.StartSession(ctxT(t), req, proto.StartRequest{})
		if !errors.Is(err, proto.ErrPreflight) {
			t.Errorf("%+v: err %v, want preflight", req, err)
		}
	}
	if l, err := c.ListSessions(ctxT(t)); err != nil || len(l) != 0 {
		t.Fatalf("preflight failures recorded sessions: %+v %v", l, err)
	}
}

func TestSessionLaunchDiagnostics(t *testing.T) {
	c, _ := newAgent(t)
	info, err := c.StartSession(ctxT(t), proto.ExecRequest{Argv: []string{"sh", "-c", "echo starting; echo 'boom: no config' >&2; exit 3"}}, proto.StartRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if info.State != proto.StateExited || info.Exit == nil || info.Exit.Code != 3 || !slices.Contains(info.StderrTail, "boom: no config") {
		t.Fatalf("start result %+v exit %+v", info, info.Exit)
	}
	// Attaching to an ended session returns its output and exit code.
	p, out, errb := attach(t, c, info.ID)
	st, err := p.Wait()
	if err != nil || st.Code != 3 || out.String() != "starting\n" || errb.String() != "boom: no config\n" {
		t.Fatalf("attach to ended: %+v %v %q %q", st, err, out.String(), errb.String())
	}
}

func TestSessionNamesAndRemove(t *testing.T) {
	c, _ := newAgent(t)
	info, err := c.StartSession(ctxT(t), proto.ExecRequest{Argv: []string{"sleep", "600"}}, proto.StartRequest{Name: "agent"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.StartSession(ctxT(t), proto.ExecRequest{Argv: []string{"true"}}, proto.StartRequest{Name: "agent"}); !errors.Is(err, proto.ErrConflict) {
		t.Fatalf("duplicate name: %v", err)
	}
	if got, err := c.GetSession(ctxT(t), "agent"); err != nil || got.ID != info.ID {
		t.Fatalf("get by name: %+v %v", got, err)
	}
	if err := c.Remove(ctxT(t), "agent", false); !errors.Is(err, proto.ErrConflict) {
		t.Fatalf("remove running: %v", err)
	}
	if err := c.Remove(ctxT(t), "agent", true); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetSession(ctxT(t), info.ID); !errors.Is(err, proto.ErrNotFound) {
		t.Fatalf("get removed: %v", err)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", info.PID)); err == nil {
		t.Fatalf("process %d of a force-removed session still runs", info.PID)
	}
}

func TestTwentySessions(t *testing.T) {
	c, _ := newAgent(t)
	ids := make([]string, 20)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			info, err := c.StartSession(ctxT(t), proto.ExecRequest{Argv: []string{"sh", "-c", "echo hi-$N; sleep 600"}, Env: []string{fmt.Sprintf("N=%d", i)}}, proto.StartRequest{})
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = info.ID
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	l, err := c.ListSessions(ctxT(t))
	if err != nil || len(l) != 20 {
		t.Fatalf("list: %d sessions, %v", len(l), err)
	}
	for _, s := range l {
		if s.State != proto.StateRunning || !slices.Equal(s.EnvKeys, []string{"N"}) {
			t.Fatalf("session %+v", s)
		}
	}
	for i, id := range ids {
		waitLog(t, c, id, fmt.Sprintf("hi-%d\n", i))
	}
}

func TestSessionsSurviveAgentRestart(t *testing.T) {
	dir := t.TempDir()
	t.Cleanup(func() { killSessions(dir) })
	c, stop := serve(t, newServer(t, dir))
	s := start(t, c, "while read x; do echo got:$x; done")
	p, out, _ := attach(t, c, s.ID)
	p.Write([]byte("before\n"))
	out.WaitFor(t, "got:before")
	stop() // the agent goes away; the supervisor and process do not

	c2, _ := serve(t, newServer(t, dir))
	got, err := c2.GetSession(ctxT(t), s.ID)
	if err != nil || got.State != proto.StateRunning || got.PID != s.PID {
		t.Fatalf("after restart: %+v %v", got, err)
	}
	p2, out2, _ := attach(t, c2, s.ID)
	out2.WaitFor(t, "got:before\n") // scrollback from before the restart
	p2.Write([]byte("after\n"))
	out2.WaitFor(t, "got:after\n")
	p2.CloseStdin()
	if st, err := p2.Wait(); err != nil || st.Code != 0 {
		t.Fatalf("exit after stdin closed: %+v %v", st, err)
	}
}

func TestSessionLostSupervisor(t *testing.T) {
	c, dir := newAgent(t)
	s := start(t, c, "sleep 600")
	killSessions(dir)
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := c.GetSession(ctxT(t), s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State == proto.StateLost || got.State == proto.StateExited {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("session still %s after its supervisor was killed", got.State)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stalledWriter blocks its first write for a while, like a client whose
// terminal is suspended, then takes everything at full speed.
type stalledWriter struct {
	mu    sync.Mutex
	stall time.Duration
	n     int
}

func (w *stalledWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stall > 0 {
		time.Sleep(w.stall)
		w.stall = 0
	}
	w.n += len(b)
	return len(b), nil
}

// An attacher that stops reading while the process writes more than every
// buffer in between (yamux window, sockets) holds still gets every byte
// (within the scrollback) and the exit status: it follows the log at its
// own pace instead of being dropped from an in-memory queue.
func TestStalledAttacherGetsEverything(t *testing.T) {
	c, _ := newAgent(t)
	const lines = 200000 // about 2.3 MB in 200000 small writes
	script := fmt.Sprintf(`sleep 0.3; i=0; while [ $i -lt %d ]; do echo line$i; i=$((i+1)); done`, lines)
	size := 0
	for i := 0; i < lines; i++ {
		size += len(fmt.Sprintf("line%d\n", i))
	}
	info, err := c.StartSession(ctxT(t), proto.ExecRequest{Argv: []string{"sh", "-c", script}}, proto.StartRequest{})
	if err != nil {
		t.Fatal(err)
	}
	w := &stalledWriter{stall: 6 * time.Second}
	p, _, err := c.Attach(ctxT(t), info.ID, w, &syncBuffer{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	st, err := p.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if st.Code != 0 || w.n != size {
		t.Fatalf("stalled attacher got %d of %d bytes, exit %+v", w.n, size, st)
	}
}

// Logs returns the scrollback as it is now, streams apart, without
// following a running session; for an ended one it ends with the exit.
func TestSessionLogs(t *testing.T) {
	c, _ := newAgent(t)
	s := start(t, c, "echo out1; echo err1 >&2; sleep 600")
	waitLog(t, c, s.ID, "out1")
	var frames bytes.Buffer
	info, err := c.Logs(ctxT(t), s.ID, &frames)
	if err != nil || info.State != proto.StateRunning {
		t.Fatalf("logs of a running session: %+v %v", info, err)
	}
	var out, errb strings.Builder
	var exit bool
	for {
		f, err := proto.ReadFrame(&frames)
		if err != nil {
			break
		}
		switch f.Type {
		case proto.FrameStdout:
			out.Write(f.Payload)
		case proto.FrameStderr:
			errb.Write(f.Payload)
		case proto.FrameExit:
			exit = true
		}
	}
	if out.String() != "out1\n" || errb.String() != "err1\n" || exit {
		t.Fatalf("logs: stdout %q stderr %q exit %v", out.String(), errb.String(), exit)
	}
	if _, err := c.Logs(ctxT(t), "nope", &frames); !errors.Is(err, proto.ErrNotFound) {
		t.Fatalf("logs of an unknown session: %v", err)
	}
}

// Bulk output far beyond the scrollback bound reaches an attacher that
// keeps reading, even one that paused for a moment: before a rotation
// would discard output it has not read, the process waits for it.
func TestAttacherGetsBackpressureNotGaps(t *testing.T) {
	c, _ := newAgent(t)
	const size = 24 << 20 // three times guest.LogLimit
	info, err := c.StartSession(ctxT(t), proto.ExecRequest{Argv: []string{"sh", "-c", fmt.Sprintf("read x; head -c %d /dev/zero; sleep 600", size)}}, proto.StartRequest{})
	if err != nil {
		t.Fatal(err)
	}
	w := &stalledWriter{stall: 2 * time.Second}
	p, _, err := c.Attach(ctxT(t), info.ID, w, &syncBuffer{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		w.mu.Lock()
		n := w.n
		w.mu.Unlock()
		if n == size {
			return
		}
		if n > size || time.Now().After(deadline) {
			t.Fatalf("attacher got %d of %d bytes", n, size)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
