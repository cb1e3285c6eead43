package guest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"banger/internal/agent/proto"
)

const (
	// Long enough for a command that fails at once to do so in a guest under
	// software emulation that is still busy finishing its boot (500 ms was
	// seen to be too short there).
	defaultLaunchWindow = 1500 * time.Millisecond
	defaultStopTimeout  = 10 * time.Second
	removeStopTimeout   = 5 * time.Second
)

func (s *Server) sessionsDir() string { return filepath.Join(s.cfg.StateDir, "sessions") }

func (s *Server) sessionStart(ctx context.Context, st *stream, req proto.Request) error {
	if req.Exec == nil {
		return st.fail(proto.Errorf(proto.CodeInvalid, "session.start: missing exec field"))
	}
	start := req.Start
	if start == nil {
		start = &proto.StartRequest{}
	}
	sp, err := resolveSpec(*req.Exec, "/")
	if err != nil {
		return st.fail(err)
	}
	window := time.Duration(start.LaunchWindowMS) * time.Millisecond
	if window <= 0 {
		window = defaultLaunchWindow
	}
	dir, err := s.createSession(req.Exec, start.Name, spec{Proc: sp, LaunchWindowMS: int(window / time.Millisecond)})
	if err != nil {
		return st.fail(err)
	}
	info, err := s.launch(ctx, dir, window)
	if err != nil {
		return st.fail(err)
	}
	return st.respond(proto.Response{OK: true, Session: &info})
}

// createSession records a new session (meta.json, spec.json) under a
// fresh id, refusing a name already in use.
func (s *Server) createSession(req *proto.ExecRequest, name string, sp spec) (string, error) {
	s.startMu.Lock()
	defer s.startMu.Unlock()
	if name != "" {
		if _, err := s.find(name); err == nil {
			return "", proto.Errorf(proto.CodeConflict, "a session named %q exists", name)
		}
	}
	var b [6]byte
	rand.Read(b[:])
	id := "s-" + hex.EncodeToString(b[:])
	dir := filepath.Join(s.sessionsDir(), id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", proto.Errorf(proto.CodeInternal, "creating session directory: %v", err)
	}
	var keys []string
	for _, kv := range req.Env {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	m := meta{SessionInfo: proto.SessionInfo{
		ID: id, Name: name, Argv: sp.Proc.Argv, Cwd: sp.Proc.Cwd, EnvKeys: keys, TTY: sp.Proc.TTY,
		State: proto.StateStarting, CreatedAt: time.Now().UTC(),
	}}
	err := writeJSON(dir, specName, sp, 0o600)
	if err == nil {
		err = writeMeta(dir, m)
	}
	if err != nil {
		os.RemoveAll(dir)
		return "", proto.Errorf(proto.CodeInternal, "recording session: %v", err)
	}
	return dir, nil
}

// launch starts the supervisor detached (own session, so neither the
// agent's exit nor its process group signals reach it) and waits for its
// report: running, or exited within the launch window.
func (s *Server) launch(ctx context.Context, dir string, window time.Duration) (proto.SessionInfo, error) {
	logf, err := os.OpenFile(filepath.Join(dir, "supervisor.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return proto.SessionInfo{}, fmt.Errorf("opening supervisor log: %w", err)
	}
	defer logf.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		return proto.SessionInfo{}, fmt.Errorf("creating pipe: %w", err)
	}
	defer pr.Close()
	argv := append(slices.Clone(s.cfg.SupervisorCommand), dir)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = pw, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	pw.Close()
	if err != nil {
		s.markLost(dir, fmt.Sprintf("starting supervisor: %v", err))
		return proto.SessionInfo{}, fmt.Errorf("starting session supervisor: %w", err)
	}
	go cmd.Wait() // reap it should it exit while this agent lives
	// The supervisor reports after the launch window. Starting it is a new
	// Go process, which under software emulation on a busy host can take
	// many seconds (10 s was seen to be too little in CI).
	pr.SetReadDeadline(time.Now().Add(window + supervisorStartTimeout))
	stop := context.AfterFunc(ctx, func() { pr.SetReadDeadline(time.Now()) })
	defer stop()
	var msg readyMsg
	if err := proto.ReadJSONLine(bufio.NewReader(pr), &msg); err != nil {
		return proto.SessionInfo{}, fmt.Errorf("waiting for the session supervisor (see %s/supervisor.log): %w", dir, err)
	}
	if msg.Session == nil {
		return proto.SessionInfo{}, proto.Errorf(proto.CodeInternal, "session supervisor: %s", msg.Error)
	}
	return *msg.Session, nil
}

func (s *Server) markLost(dir, why string) {
	m, err := readMeta(dir)
	if err != nil {
		return
	}
	m.State, m.EndedAt = proto.StateLost, time.Now().UTC()
	m.Exit = &proto.ExitStatus{Code: -1, Error: why}
	if err := writeMeta(dir, m); err != nil {
		s.log.Warn("recording lost session", "dir", dir, "err", err)
	}
}

// load reads a session's metadata and settles its state: a running
// session whose supervisor is gone is recorded as lost.
func (s *Server) load(dir string) (meta, error) {
	m, err := readMeta(dir)
	if err != nil {
		return m, err
	}
	stale := m.State == proto.StateStarting && time.Since(m.CreatedAt) > time.Minute
	if (m.State == proto.StateRunning || stale) && !supervisorAlive(m) {
		s.markLost(dir, "the session supervisor is gone")
		return readMeta(dir)
	}
	return m, nil
}

func (s *Server) all() ([]meta, error) {
	ents, err := os.ReadDir(s.sessionsDir())
	if err != nil {
		return nil, fmt.Errorf("listing sessions: %w", err)
	}
	var out []meta
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		m, err := s.load(filepath.Join(s.sessionsDir(), e.Name()))
		if err != nil {
			continue // removed meanwhile, or being created
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b meta) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

// find returns the session whose id or name is key.
func (s *Server) find(key string) (meta, error) {
	if key != "" && !strings.ContainsAny(key, "/.") {
		if m, err := s.load(filepath.Join(s.sessionsDir(), key)); err == nil {
			return m, nil
		}
	}
	all, err := s.all()
	if err != nil {
		return meta{}, err
	}
	for _, m := range all {
		if key != "" && m.Name == key {
			return m, nil
		}
	}
	return meta{}, proto.Errorf(proto.CodeNotFound, "session %q: %v", key, errNoSession)
}

func (s *Server) dir(m meta) string { return filepath.Join(s.sessionsDir(), m.ID) }

func (s *Server) sessionList(st *stream) error {
	all, err := s.all()
	if err != nil {
		return st.fail(err)
	}
	infos := make([]proto.SessionInfo, 0, len(all))
	for _, m := range all {
		infos = append(infos, m.SessionInfo)
	}
	return st.respond(proto.Response{OK: true, Sessions: infos})
}

func (s *Server) sessionGet(st *stream, req proto.Request) error {
	m, err := s.find(req.ID)
	if err != nil {
		return st.fail(err)
	}
	return st.respond(proto.Response{OK: true, Session: &m.SessionInfo})
}

// ctl dials a running session's supervisor and sends a control request.
func (s *Server) ctl(ctx context.Context, m meta, req ctlRequest) (net.Conn, *bufio.Reader, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", filepath.Join(s.dir(m), ctlName))
	if err != nil {
		return nil, nil, err
	}
	if err := proto.WriteJSONLine(c, req); err != nil {
		c.Close()
		return nil, nil, err
	}
	return c, bufio.NewReader(c), nil
}

// supervisorStartTimeout bounds how long a session start waits, beyond the
// launch window, for its supervisor to report.
const supervisorStartTimeout = time.Minute

// relayBuf is the chunk size for relaying bulk session output.
const relayBuf = 256 << 10

// readerOnly hides a reader's WriterTo so io.CopyBuffer uses its buffer.
type readerOnly struct{ io.Reader }

func (s *Server) sessionAttach(ctx context.Context, st *stream, req proto.Request) error {
	m, err := s.find(req.ID)
	if err != nil {
		return st.fail(err)
	}
	if m.State == proto.StateRunning {
		if c, r, err := s.ctl(ctx, m, ctlRequest{Op: "attach"}); err == nil {
			defer c.Close()
			if err := st.respond(proto.Response{OK: true, Session: &m.SessionInfo}); err != nil {
				return err
			}
			go func() {
				io.Copy(c, st.r) // host input to the supervisor
				c.(*net.UnixConn).CloseWrite()
			}()
			// Replay, live output, exit frame. Large reads: bufio.Reader's
			// own WriteTo would forward in 4 KiB pieces, each its own yamux
			// frame and syscalls (a third of attach throughput under TCG).
			_, err := io.CopyBuffer(st.c, readerOnly{r}, make([]byte, relayBuf))
			return err
		}
		// It ended between the check and the dial: serve it from disk.
		if m, err = s.load(s.dir(m)); err != nil {
			return st.fail(err)
		}
	}
	log, err := readLog(s.dir(m))
	if err != nil {
		return st.fail(err)
	}
	if err := st.respond(proto.Response{OK: true, Session: &m.SessionInfo}); err != nil {
		return err
	}
	exit := proto.ExitStatus{Code: -1, Error: "the session has no recorded exit"}
	if m.Exit != nil {
		exit = *m.Exit
	}
	_, err = st.c.Write(proto.AppendFrame(log, proto.FrameExit, proto.ExitPayload(exit)))
	return err
}

// sessionLogs sends the scrollback as it is now (stdout/stderr frames) and,
// for an ended session, its exit frame; then it ends the stream. Unlike
// attach it never follows and never touches the process.
func (s *Server) sessionLogs(_ context.Context, st *stream, req proto.Request) error {
	m, err := s.find(req.ID)
	if err != nil {
		return st.fail(err)
	}
	log, err := readLog(s.dir(m))
	if err != nil {
		return st.fail(err)
	}
	if err := st.respond(proto.Response{OK: true, Session: &m.SessionInfo}); err != nil {
		return err
	}
	if m.State != proto.StateRunning {
		exit := proto.ExitStatus{Code: -1, Error: "the session has no recorded exit"}
		if m.Exit != nil {
			exit = *m.Exit
		}
		log = proto.AppendFrame(log, proto.FrameExit, proto.ExitPayload(exit))
	}
	_, err = st.c.Write(log)
	return err
}

func (s *Server) sessionSignal(ctx context.Context, st *stream, req proto.Request) error {
	m, err := s.find(req.ID)
	if err != nil {
		return st.fail(err)
	}
	if req.Signal == nil {
		return st.fail(proto.Errorf(proto.CodeInvalid, "session.signal: missing signal field"))
	}
	if m, err = s.signal(ctx, m, *req.Signal); err != nil {
		return st.fail(err)
	}
	return st.respond(proto.Response{OK: true, Session: &m.SessionInfo})
}

// signal forwards a signal or a stop to the session's supervisor and
// returns the session's metadata afterwards.
func (s *Server) signal(ctx context.Context, m meta, sr proto.SignalRequest) (meta, error) {
	if m.State != proto.StateRunning {
		return m, proto.Errorf(proto.CodeConflict, "session %s is %s", m.ID, m.State)
	}
	creq := ctlRequest{Op: "signal", Signal: sr.Signal}
	if sr.Stop {
		timeout := time.Duration(sr.TimeoutMS) * time.Millisecond
		if timeout <= 0 {
			timeout = defaultStopTimeout
		}
		creq = ctlRequest{Op: "stop", TimeoutMS: int(timeout / time.Millisecond)}
	} else if _, err := parseSignal(sr.Signal); err != nil {
		return m, err
	}
	c, r, err := s.ctl(ctx, m, creq)
	if err != nil {
		if m, lerr := s.load(s.dir(m)); lerr == nil && m.State != proto.StateRunning {
			return m, proto.Errorf(proto.CodeConflict, "session %s is %s", m.ID, m.State)
		}
		return m, fmt.Errorf("reaching session supervisor: %w", err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	var resp ctlResponse
	if err := proto.ReadJSONLine(r, &resp); err != nil {
		return m, fmt.Errorf("signalling session %s: %w", m.ID, err)
	}
	if resp.Error != "" {
		return m, fmt.Errorf("signalling session %s: %s", m.ID, resp.Error)
	}
	return s.load(s.dir(m))
}

func (s *Server) sessionRemove(ctx context.Context, st *stream, req proto.Request) error {
	m, err := s.find(req.ID)
	if err != nil {
		return st.fail(err)
	}
	if m.State == proto.StateRunning || m.State == proto.StateStarting {
		if !req.Force {
			return st.fail(proto.Errorf(proto.CodeConflict, "session %s is %s (stop it first, or force)", m.ID, m.State))
		}
		_, err := s.signal(ctx, m, proto.SignalRequest{Stop: true, TimeoutMS: int(removeStopTimeout / time.Millisecond)})
		if err != nil && !errors.Is(err, proto.ErrConflict) {
			return st.fail(err)
		}
	}
	if err := os.RemoveAll(s.dir(m)); err != nil {
		return st.fail(fmt.Errorf("removing session %s: %w", m.ID, err))
	}
	return st.respond(proto.Response{OK: true, Session: &m.SessionInfo})
}
