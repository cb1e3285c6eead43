package host_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"banger/internal/agent/host"
	"banger/internal/agent/proto"
)

// keepOpen is a serial port seen from the host: closing a client must not
// close the port itself.
type keepOpen struct{ net.Conn }

func (keepOpen) Close() error { return nil }

// TestSerialReconnect drives three hosts one after the other over one
// stream that never closes, as on a virtio-serial port: one that closes its
// yamux session, one that vanishes in the middle of a yamux frame, and one
// that must still get a working session.
func TestSerialReconnect(t *testing.T) {
	srv := newServer(t, t.TempDir())
	hostEnd, guestEnd := socketpair(t)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.ServeStream(ctx, guestEnd, false) }()
	t.Cleanup(func() {
		cancel()
		<-served
		hostEnd.Close()
	})
	dial := func(context.Context) (net.Conn, error) { return keepOpen{hostEnd}, nil }
	connect := func() *host.Client {
		t.Helper()
		dctx, dcancel := context.WithTimeout(ctx, 20*time.Second)
		defer dcancel()
		c, err := host.Dial(dctx, dial)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	roundTrip := func(c *host.Client, word string) {
		t.Helper()
		var out bytes.Buffer
		st, err := c.Exec(ctxT(t), proto.ExecRequest{Argv: []string{"echo", word}}, host.ExecIO{Stdout: &out})
		if err != nil || st.Code != 0 || out.String() != word+"\n" {
			t.Fatalf("exec: %+v %v %q", st, err, out.String())
		}
	}

	first := connect()
	roundTrip(first, "one")
	first.Close() // the guest's session is not told: the port stays open

	second := connect()
	roundTrip(second, "two")
	// This host dies after half a yamux data frame: the guest now waits for
	// 200 KiB of frame body that will never come.
	hdr := make([]byte, 12)
	hdr[1] = 0 // data frame
	binary.BigEndian.PutUint32(hdr[4:], 99)
	binary.BigEndian.PutUint32(hdr[8:], 200<<10)
	if _, err := hostEnd.Write(append(hdr, "partial"...)); err != nil {
		t.Fatal(err)
	}
	second.Close()

	third := connect()
	roundTrip(third, "three")
	if _, err := third.Ping(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	third.Close()
}

// TestGuestStaleOutputBeforeReady checks that the host skips bytes that
// precede the ready line (output of an earlier session still in the port).
func TestGuestStaleOutputBeforeReady(t *testing.T) {
	srv := newServer(t, t.TempDir())
	hostEnd, guestEnd := socketpair(t)
	guestSide := &prefixWriter{Conn: guestEnd, prefix: []byte("\x00\x01stale yamux bytes\nBANGER-AGENT-READY v1 wrong\n")}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); srv.ServeStream(ctx, guestSide, false) }()
	t.Cleanup(func() { cancel(); <-done; hostEnd.Close() })
	c, err := host.Dial(ctxT(t), func(context.Context) (net.Conn, error) { return hostEnd, nil })
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Ping(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

// prefixWriter writes prefix before the first write.
type prefixWriter struct {
	net.Conn
	prefix []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	if p.prefix != nil {
		pre := p.prefix
		p.prefix = nil
		if _, err := p.Conn.Write(pre); err != nil {
			return 0, err
		}
	}
	return p.Conn.Write(b)
}

func TestDialGivesUpWithContext(t *testing.T) {
	hostEnd, guestEnd := socketpair(t)
	defer guestEnd.Close() // nobody answers on the guest side
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	go func() { // drain, as a silent guest would
		buf := make([]byte, 64<<10)
		for {
			if _, err := guestEnd.Read(buf); err != nil {
				return
			}
		}
	}()
	if _, err := host.Dial(ctx, func(context.Context) (net.Conn, error) { return hostEnd, nil }); err == nil {
		t.Fatal("Dial succeeded without a guest")
	}
}
