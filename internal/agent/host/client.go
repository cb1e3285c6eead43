// Package host is the host side of banger's guest agent protocol
// (banger/internal/agent/proto): it opens the preamble on a stream to the
// guest, runs a yamux client over it and offers one method per operation.
// Many requests may run concurrently on one Client. Reconnecting after the
// stream breaks is the caller's job: Done tells when.
package host

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/yamux"

	"banger/internal/agent/proto"
)

// helloRetry is how long Dial waits for the ready line before repeating
// its hello (with resync padding).
const helloRetry = 300 * time.Millisecond

// Client is a connection to one guest agent.
type Client struct {
	conn net.Conn
	sess *yamux.Session
}

// Dial opens a stream with dial, exchanges the preamble (repeating it until
// the guest answers or ctx ends) and starts yamux. ctx bounds only the
// handshake. On failure the stream is closed.
func Dial(ctx context.Context, dial func(context.Context) (net.Conn, error)) (*Client, error) {
	conn, err := dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("dialing agent: %w", err)
	}
	br, err := handshake(ctx, conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	cfg := proto.MuxConfig()
	sess, err := yamux.Client(&bufConn{Conn: conn, r: br}, cfg)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("starting yamux client: %w", err)
	}
	return &Client{conn: conn, sess: sess}, nil
}

// handshake writes hello lines until the ready line for the latest one
// arrives and returns the reader positioned just after it. Each attempt
// has its own nonce and only the latest attempt's answer counts: a guest
// that answered an earlier hello and then read a later one has dropped
// the session it started for the earlier one.
func handshake(ctx context.Context, conn net.Conn) (*bufio.Reader, error) {
	conn.SetDeadline(time.Time{}) // an earlier Client's Close set it
	br := bufio.NewReader(conn)
	var (
		mu   sync.Mutex
		cur  string
		done bool
	)
	ready := make(chan error, 1)
	go func() {
		ready <- awaitReady(br, func(nonce string) bool {
			mu.Lock()
			defer mu.Unlock()
			done = nonce == cur
			return done
		})
	}()
	padding := strings.Repeat("\n", proto.ResyncPadding)
	stopWriting := make(chan struct{})
	written := make(chan error, 1)
	go func() {
		for attempt := 0; ; attempt++ {
			var b [8]byte
			rand.Read(b[:])
			nonce := hex.EncodeToString(b[:])
			mu.Lock()
			if done {
				mu.Unlock()
				written <- nil
				return
			}
			cur = nonce
			mu.Unlock()
			msg := proto.HelloLine(nonce)
			if attempt > 0 {
				msg = padding + msg
			}
			if _, err := conn.Write([]byte(msg)); err != nil {
				written <- err
				return
			}
			select {
			case <-stopWriting:
				written <- nil
				return
			case <-time.After(helloRetry):
			}
		}
	}()
	abort := func(err error) (*bufio.Reader, error) {
		conn.SetDeadline(time.Now())
		<-ready
		close(stopWriting)
		<-written
		return nil, err
	}
	select {
	case err := <-ready:
		close(stopWriting)
		werr := <-written
		if err != nil {
			return nil, fmt.Errorf("waiting for agent ready line: %w", err)
		}
		if werr != nil {
			return nil, fmt.Errorf("writing agent hello: %w", werr)
		}
		return br, nil
	case err := <-written:
		if err == nil { // the reader accepted an answer: it returns at once
			if err := <-ready; err != nil {
				return nil, fmt.Errorf("waiting for agent ready line: %w", err)
			}
			return br, nil
		}
		written <- err // for abort
		return abort(fmt.Errorf("writing agent hello: %w", err))
	case <-ctx.Done():
		return abort(fmt.Errorf("waiting for agent ready line: %w", ctx.Err()))
	}
}

// awaitReady discards input until a ready line whose nonce accept takes.
func awaitReady(br *bufio.Reader, accept func(nonce string) bool) error {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line) < 4096 {
			line = append(line, chunk...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			return err
		}
		if nonce, ok := proto.ParseReady(string(line)); ok && accept(nonce) {
			return nil
		}
		line = line[:0]
	}
}

// bufConn reads through the handshake's buffer so no byte after the
// ready line is lost.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// Close ends the yamux session and closes the stream. A second call
// returns nil. If the stream's Close does not close it (a serial port kept
// open for the next Dial), its deadline is set to now so the session's
// reader returns; the next Dial clears it.
func (c *Client) Close() error {
	c.conn.SetDeadline(time.Now())
	err := c.sess.Close()
	c.conn.Close()
	return err
}

// Done is closed when the session ended (Close, or the stream broke).
func (c *Client) Done() <-chan struct{} { return c.sess.CloseChan() }

// call is one request stream.
type call struct {
	st   net.Conn
	r    *bufio.Reader
	wmu  sync.Mutex
	stop func() bool
}

// open sends req on a new stream and reads the response header. ctx
// cancels the whole call: its stream's deadline is set to now.
func (c *Client) open(ctx context.Context, req proto.Request) (*call, proto.Response, error) {
	var resp proto.Response
	st, err := c.sess.OpenStream()
	if err != nil {
		return nil, resp, fmt.Errorf("opening agent stream: %w", err)
	}
	cl := &call{st: st, r: bufio.NewReader(st)}
	cl.stop = context.AfterFunc(ctx, func() { st.SetDeadline(time.Now()) })
	req.V = proto.Version
	if err := proto.WriteJSONLine(st, req); err != nil {
		cl.close()
		return nil, resp, ctxErr(ctx, fmt.Errorf("sending %s: %w", req.Op, err))
	}
	if err := proto.ReadJSONLine(cl.r, &resp); err != nil {
		cl.close()
		return nil, resp, ctxErr(ctx, fmt.Errorf("reading %s response: %w", req.Op, err))
	}
	if !resp.OK {
		cl.close()
		if resp.Error == nil {
			resp.Error = &proto.Error{Code: proto.CodeInternal, Message: "request failed without an error"}
		}
		return nil, resp, fmt.Errorf("%s: %w", req.Op, resp.Error)
	}
	return cl, resp, nil
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return errors.Join(ctx.Err(), err)
	}
	return err
}

func (cl *call) close() {
	cl.stop()
	cl.st.Close()
}

func (cl *call) frame(t proto.FrameType, p []byte) error {
	cl.wmu.Lock()
	defer cl.wmu.Unlock()
	return proto.WriteFrame(cl.st, t, p)
}

// do is a request with a header-only answer.
func (c *Client) do(ctx context.Context, req proto.Request) (proto.Response, error) {
	cl, resp, err := c.open(ctx, req)
	if err != nil {
		return resp, err
	}
	cl.close()
	return resp, nil
}

// Ping reports the agent's version, protocol version and boot id.
func (c *Client) Ping(ctx context.Context) (proto.PingInfo, error) {
	resp, err := c.do(ctx, proto.Request{Op: proto.OpPing})
	if err != nil {
		return proto.PingInfo{}, err
	}
	if resp.Ping == nil {
		return proto.PingInfo{}, errors.New("ping: response without ping info")
	}
	return *resp.Ping, nil
}
