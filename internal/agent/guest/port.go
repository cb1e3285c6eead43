package guest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"

	"banger/internal/agent/proto"
)

// maxScanLine bounds how much of a non-hello line is kept while scanning.
const maxScanLine = 4096

// ServeStream runs the preamble/yamux cycle on rw: it discards bytes until
// a hello line, answers the ready line and serves a yamux session on the
// following bytes. When that session ends (the host went away, or a new
// hello broke its framing) it goes back to waiting for a hello, unless
// once is set (vsock: one session per connection). It returns when rw
// fails or ctx is done, and closes rw.
func (s *Server) ServeStream(ctx context.Context, rw io.ReadWriteCloser, once bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { rw.Close() })
	defer stop()
	defer rw.Close()
	p := &port{rw: rw}
	var (
		line []byte
		pw   *io.PipeWriter // non-nil while a session reads the stream
		wg   sync.WaitGroup
	)
	defer wg.Wait()
	buf := make([]byte, 64<<10)
	for {
		n, rerr := rw.Read(buf)
		data := buf[:n]
		for len(data) > 0 {
			if pw != nil {
				m, err := pw.Write(data)
				data = data[m:]
				if err != nil { // the session ended: scan the rest
					pw = nil
				}
				continue
			}
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				line = append(line, data...)
				if len(line) > maxScanLine {
					line = append(line[:0], line[len(line)-maxScanLine:]...)
				}
				break
			}
			line = append(line, data[:i+1]...)
			data = data[i+1:]
			nonce, ok := proto.ParseHello(string(line))
			line = line[:0]
			if !ok {
				continue
			}
			pr, w := io.Pipe()
			ec := &epochConn{p: p, pr: pr}
			if err := p.write([]byte(proto.ReadyLine(nonce))); err != nil {
				return fmt.Errorf("answering hello: %w", err)
			}
			pw = w
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := s.ServeSession(ctx, ec); err != nil {
					s.log.Debug("yamux session ended", "err", err)
				}
				if once {
					cancel()
				}
			}()
		}
		if rerr != nil {
			if pw != nil {
				pw.CloseWithError(rerr)
			}
			if ctx.Err() != nil || errors.Is(rerr, io.EOF) || errors.Is(rerr, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("reading agent stream: %w", rerr)
		}
	}
}

// port serialises writes of successive sessions on one stream.
type port struct {
	rw  io.ReadWriter
	wmu sync.Mutex
}

func (p *port) write(b []byte) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	_, err := p.rw.Write(b)
	return err
}

// epochConn is one yamux session's view of a shared stream. Closing it
// ends that session only; the stream stays open for the next hello.
type epochConn struct {
	p      *port
	pr     *io.PipeReader
	closed atomic.Bool
}

func (c *epochConn) Read(b []byte) (int, error) { return c.pr.Read(b) }

func (c *epochConn) Write(b []byte) (int, error) {
	c.p.wmu.Lock()
	defer c.p.wmu.Unlock()
	if c.closed.Load() {
		return 0, net.ErrClosed
	}
	return c.p.rw.Write(b)
}

func (c *epochConn) Close() error {
	c.closed.Store(true)
	return c.pr.Close()
}
