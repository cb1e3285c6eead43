package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"

	"banger/internal/agent/proto"
	"banger/internal/api"
)

// ErrNoExit: the stream ended without an exit status (the daemon or the
// guest agent went away).
var ErrNoExit = errors.New("the stream ended without an exit status")

// Stream is an exec or a session attachment: the API connection after an
// upgrade to api.StreamProtocol, carrying the guest agent's frames. Input
// methods are safe for concurrent use; Output is called once.
type Stream struct {
	conn   net.Conn
	r      *bufio.Reader
	wmu    sync.Mutex
	stop   func() bool
	Header http.Header // of the daemon's 101 answer
}

// openStream sends method path with in as JSON asking for the upgrade.
// A non-101 answer is returned as its *api.Error. ctx bounds the whole
// stream: cancelling it closes the connection.
func (c *Client) openStream(ctx context.Context, method, path string, in any) (*Stream, error) {
	req, err := newRequest(ctx, method, path, in)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", api.StreamProtocol)
	conn, err := (&net.Dialer{}).DialContext(ctx, "unix", c.socket)
	if err != nil {
		return nil, c.connError(err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	fail := func(err error) (*Stream, error) {
		stop()
		conn.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	if err := req.Write(conn); err != nil {
		return fail(c.connError(err))
	}
	br := bufio.NewReaderSize(conn, 64<<10)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return fail(fmt.Errorf("reading daemon response to %s %s: %w", method, path, err))
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		return fail(decodeError(resp.StatusCode, data))
	}
	return &Stream{conn: conn, r: br, stop: stop, Header: resp.Header}, nil
}

func (s *Stream) frame(t proto.FrameType, p []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return proto.WriteFrame(s.conn, t, p)
}

// Write sends p to the process's stdin.
func (s *Stream) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		c := min(len(p), 256<<10)
		if err := s.frame(proto.FrameStdin, p[:c]); err != nil {
			return n, err
		}
		n, p = n+c, p[c:]
	}
	return n, nil
}

// CloseStdin ends the process's input (on a terminal: sends ^D; in a
// session: for every attacher).
func (s *Stream) CloseStdin() error { return s.frame(proto.FrameStdinClose, nil) }

// Resize sets the terminal size (nothing without a terminal).
func (s *Stream) Resize(rows, cols uint16) error {
	return s.frame(proto.FrameResize, proto.ResizePayload(proto.WinSize{Rows: rows, Cols: cols}))
}

// Signal sends a signal ("INT", "TERM", "9") to the process group.
func (s *Stream) Signal(name string) error { return s.frame(proto.FrameSignal, []byte(name)) }

// Output copies stdout and stderr frames to the writers until the exit
// frame and returns its status (a process killed by signal n has Code
// 128+n). A stream cut short gives ErrNoExit.
func (s *Stream) Output(stdout, stderr io.Writer) (proto.ExitStatus, error) {
	return copyOutput(s.r, stdout, stderr)
}

func copyOutput(r io.Reader, stdout, stderr io.Writer) (proto.ExitStatus, error) {
	for {
		f, err := proto.ReadFrame(r)
		if err != nil {
			return proto.ExitStatus{}, fmt.Errorf("%w: %w", ErrNoExit, err)
		}
		var w io.Writer
		switch f.Type {
		case proto.FrameStdout:
			w = stdout
		case proto.FrameStderr:
			w = stderr
		case proto.FrameExit:
			return proto.ParseExit(f.Payload)
		default:
			return proto.ExitStatus{}, fmt.Errorf("unexpected %s frame from the daemon", f.Type)
		}
		if _, err := w.Write(f.Payload); err != nil {
			return proto.ExitStatus{}, fmt.Errorf("writing %s: %w", f.Type, err)
		}
	}
}

// Close ends the stream: an exec'd process gets SIGHUP (and is killed if
// it lingers), an attached session runs on. A second call returns an error.
func (s *Stream) Close() error {
	s.stop()
	return s.conn.Close()
}

// Exec runs a command in a VM. Feed stdin with Write/CloseStdin, read
// output with Output.
func (c *Client) Exec(ctx context.Context, vm string, req api.ExecRequest) (*Stream, error) {
	return c.openStream(ctx, http.MethodPost, vmPath(vm)+"/exec", req)
}
