package daemon

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"banger/internal/agent/host"
	"banger/internal/agent/proto"
	"banger/internal/api"
)

// A stream is an exec or a session attachment carried on the API
// connection itself after an HTTP/1.1 upgrade (api.StreamProtocol): the
// handler checks everything and opens the guest's side first, so every
// error is still an ordinary JSON answer; only then does it answer 101 and
// switch the connection to proto frames.
//
// Client vanishing (its connection ends without an exit frame having been
// sent): an attachment just detaches, the session runs on. An exec'd
// process gets SIGHUP, as from a terminal hang-up, and hangupGrace to exit;
// then the agent stream is closed, on which the guest kills the process
// group. Clients must not half-close: end of input is a stdin-close frame.
const hangupGrace = 2 * time.Second

// wantsStream refuses a request that is not an upgrade to the stream
// protocol (a client that could not speak it would hang).
func wantsStream(r *http.Request) error {
	if !headerHas(r.Header, "Connection", "upgrade") || !strings.EqualFold(r.Header.Get("Upgrade"), api.StreamProtocol) {
		return &api.Error{Code: api.CodeInvalidArgument,
			Message: fmt.Sprintf("%s %s streams: send Connection: Upgrade and Upgrade: %s", r.Method, r.URL.Path, api.StreamProtocol)}
	}
	return nil
}

func headerHas(h http.Header, key, token string) bool {
	for _, v := range h.Values(key) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// frameConn is the client's side of a stream after the upgrade. Output
// written before the upgrade is done waits for it (the guest starts
// sending as soon as its side is open).
type frameConn struct {
	conn  net.Conn
	r     *bufio.Reader
	wmu   sync.Mutex
	ready chan struct{}
	err   error // set before ready is closed when the upgrade failed
}

func newFrameConn() *frameConn { return &frameConn{ready: make(chan struct{})} }

// upgrade answers 101 with extra headers and takes over the connection.
// On failure the frames written so far and later fail.
func (fc *frameConn) upgrade(w http.ResponseWriter, extra http.Header) error {
	defer close(fc.ready)
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		fc.err = fmt.Errorf("taking over the API connection: %w", err)
		return fc.err
	}
	conn.SetDeadline(time.Time{})
	var b strings.Builder
	b.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + api.StreamProtocol + "\r\n")
	extra.Write(&b)
	b.WriteString("\r\n")
	if _, err := conn.Write([]byte(b.String())); err != nil {
		conn.Close()
		fc.err = fmt.Errorf("answering the upgrade: %w", err)
		return fc.err
	}
	fc.conn, fc.r = conn, brw.Reader
	return nil
}

// frame writes one frame once the connection is upgraded. Safe for
// concurrent use.
func (fc *frameConn) frame(t proto.FrameType, p []byte) error {
	<-fc.ready
	if fc.err != nil {
		return fc.err
	}
	fc.wmu.Lock()
	defer fc.wmu.Unlock()
	for {
		n := min(len(p), proto.MaxFramePayload)
		if err := proto.WriteFrame(fc.conn, t, p[:n]); err != nil {
			return err
		}
		if p = p[n:]; len(p) == 0 {
			return nil
		}
	}
}

// writer is an io.Writer sending t frames.
func (fc *frameConn) writer(t proto.FrameType) frameWriter { return frameWriter{fc, t} }

type frameWriter struct {
	fc *frameConn
	t  proto.FrameType
}

func (w frameWriter) Write(p []byte) (int, error) {
	if err := w.fc.frame(w.t, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// pumpInput forwards the client's frames to p until the client's side
// ends (it vanished or closed); it returns why.
func (fc *frameConn) pumpInput(p *host.Process) error {
	for {
		f, err := proto.ReadFrame(fc.r)
		if err != nil {
			return err
		}
		switch f.Type {
		case proto.FrameStdin:
			_, err = p.Write(f.Payload)
		case proto.FrameStdinClose:
			err = p.CloseStdin()
		case proto.FrameResize:
			var s proto.WinSize
			if s, err = proto.ParseResize(f.Payload); err == nil {
				err = p.Resize(s)
			}
		case proto.FrameSignal:
			err = p.Signal(string(f.Payload))
		default:
			err = fmt.Errorf("unexpected %s frame from the client", f.Type)
		}
		if err != nil {
			return err
		}
	}
}

// bridge runs an upgraded stream until the process ends (the exit frame is
// sent and the connection closed) or the client goes away (onVanish runs;
// it must end p). It returns the exit status when there was one.
func (fc *frameConn) bridge(p *host.Process, onVanish func()) (proto.ExitStatus, bool) {
	inputDone := make(chan error, 1)
	go func() { inputDone <- fc.pumpInput(p) }()
	select {
	case <-p.Done():
	case <-inputDone:
		onVanish()
		fc.conn.Close()
		return proto.ExitStatus{}, false
	}
	st, err := p.Wait()
	ok := err == nil
	if err != nil {
		st = proto.ExitStatus{Code: -1, Error: err.Error()}
	}
	fc.frame(proto.FrameExit, proto.ExitPayload(st))
	fc.conn.Close()
	return st, ok
}

// hangUp ends an exec whose client vanished: SIGHUP, then, if it has not
// exited within hangupGrace, closing the stream makes the guest kill it.
func hangUp(p *host.Process) {
	p.Signal("HUP")
	select {
	case <-p.Done():
	case <-time.After(hangupGrace):
	}
	p.Close()
}
