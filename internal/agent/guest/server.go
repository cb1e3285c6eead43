// Package guest is banger's guest agent: it serves the protocol of
// banger/internal/agent/proto on streams from the host (vsock connections
// or a virtio-serial port), runs processes for exec, moves files, and keeps
// long-lived sessions under per-session supervisor processes that survive
// a restart of the agent.
//
// It must not import host-side banger packages: cmd/banger-agent is a
// static binary that runs inside the VM.
package guest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/hashicorp/yamux"

	"banger/internal/agent/proto"
)

// Config configures a Server.
type Config struct {
	// StateDir holds sessions/<id>/ (default /var/lib/banger-agent).
	StateDir string
	// Version is the agent version reported by ping.
	Version string
	// Logger receives operational messages (default: discard).
	Logger *slog.Logger
	// SupervisorCommand is the argv that runs Supervise; the session
	// directory is appended. Default: this executable with "supervise".
	SupervisorCommand []string
	// BootIDPath defaults to /proc/sys/kernel/random/boot_id.
	BootIDPath string
}

// Server serves agent streams. Its methods may be called concurrently and
// several Servers may share a StateDir one after the other (agent restart).
type Server struct {
	cfg     Config
	log     *slog.Logger
	startMu sync.Mutex // serialises session creation (name uniqueness)
}

// New returns a Server, creating the state directory.
func New(cfg Config) (*Server, error) {
	if cfg.StateDir == "" {
		cfg.StateDir = "/var/lib/banger-agent"
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	if cfg.BootIDPath == "" {
		cfg.BootIDPath = "/proc/sys/kernel/random/boot_id"
	}
	if len(cfg.SupervisorCommand) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("finding the agent executable: %w", err)
		}
		cfg.SupervisorCommand = []string{exe, "supervise"}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(filepath.Join(cfg.StateDir, "sessions"), 0o700); err != nil {
		return nil, fmt.Errorf("creating state directory: %w", err)
	}
	return &Server{cfg: cfg, log: log}, nil
}

// ServeSession serves one yamux session (guest = yamux server) on conn
// until the session ends or ctx is done, and closes conn. The preamble
// must already have been exchanged.
func (s *Server) ServeSession(ctx context.Context, conn io.ReadWriteCloser) error {
	cfg := proto.MuxConfig()
	sess, err := yamux.Server(conn, cfg)
	if err != nil {
		conn.Close()
		return fmt.Errorf("starting yamux server: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { sess.Close() })
	defer stop()
	defer sess.Close()
	for {
		st, err := sess.AcceptStream()
		if err != nil {
			if ctx.Err() != nil || sess.IsClosed() {
				return nil
			}
			return fmt.Errorf("accepting stream: %w", err)
		}
		go s.handle(ctx, st)
	}
}

// stream is one yamux stream: a buffered reader for the header and the
// frames after it, and a writer whose frames never interleave.
type stream struct {
	r   *bufio.Reader
	c   net.Conn
	wmu sync.Mutex
}

func (st *stream) respond(resp proto.Response) error {
	st.wmu.Lock()
	defer st.wmu.Unlock()
	return proto.WriteJSONLine(st.c, resp)
}

func (st *stream) fail(err error) error {
	return st.respond(proto.Response{Error: proto.AsError(err)})
}

func (st *stream) frame(t proto.FrameType, p []byte) error {
	st.wmu.Lock()
	defer st.wmu.Unlock()
	return proto.WriteFrame(st.c, t, p)
}

// data writes p as frames of type t, split at proto.MaxFramePayload.
func (st *stream) data(t proto.FrameType, p []byte) error {
	for len(p) > 0 {
		n := min(len(p), proto.MaxFramePayload)
		if err := st.frame(t, p[:n]); err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

func (s *Server) handle(ctx context.Context, c net.Conn) {
	defer c.Close()
	st := &stream{r: bufio.NewReader(c), c: c}
	var req proto.Request
	if err := proto.ReadJSONLine(st.r, &req); err != nil {
		st.fail(proto.Errorf(proto.CodeInvalid, "%v", err))
		return
	}
	if req.V < 1 || req.V > proto.Version {
		st.fail(proto.Errorf(proto.CodeUnsupported, "protocol version %d not supported (agent speaks %d)", req.V, proto.Version))
		return
	}
	log := s.log.With("op", req.Op)
	var err error
	switch req.Op {
	case proto.OpPing:
		err = st.respond(proto.Response{OK: true, Ping: s.ping()})
	case proto.OpExec:
		err = s.exec(ctx, st, req)
	case proto.OpFilePut:
		err = s.filePut(st, req)
	case proto.OpFileGet:
		err = s.fileGet(st, req)
	case proto.OpSessionStart:
		err = s.sessionStart(ctx, st, req)
	case proto.OpSessionList:
		err = s.sessionList(st)
	case proto.OpSessionGet:
		err = s.sessionGet(st, req)
	case proto.OpSessionLogs:
		err = s.sessionLogs(ctx, st, req)
	case proto.OpSessionAttach:
		err = s.sessionAttach(ctx, st, req)
	case proto.OpSessionSignal:
		err = s.sessionSignal(ctx, st, req)
	case proto.OpSessionRemove:
		err = s.sessionRemove(ctx, st, req)
	default:
		err = st.fail(proto.Errorf(proto.CodeUnsupported, "unknown op %q", req.Op))
	}
	if err != nil {
		log.Debug("stream ended with an error", "err", err)
	}
}

func (s *Server) ping() *proto.PingInfo {
	boot, err := os.ReadFile(s.cfg.BootIDPath)
	if err != nil {
		s.log.Warn("reading boot id", "err", err)
	}
	return &proto.PingInfo{
		AgentVersion:    s.cfg.Version,
		ProtocolVersion: proto.Version,
		BootID:          strings.TrimSpace(string(boot)),
		Ops:             proto.Ops,
	}
}
