package qemu

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"
)

// defaultQMPTimeout bounds a QMP exchange whose ctx has no deadline.
const defaultQMPTimeout = 10 * time.Second

// QMPError is an error answer of QEMU ({"error": {...}}).
type QMPError struct {
	Class string `json:"class"`
	Desc  string `json:"desc"`
}

func (e *QMPError) Error() string { return "qmp: " + e.Class + ": " + e.Desc }

// qmpConn is one QMP session: greeting read, capabilities negotiated.
// QEMU serves one QMP client at a time on a socket, so the driver opens a
// session per operation and closes it at once; a session held open would
// block every other client (a second daemon attaching, an operator).
type qmpConn struct {
	conn net.Conn
	r    *bufio.Reader
	stop func() bool // unregisters the ctx cancellation hook
}

// dialQMP connects to the QMP socket, reads the greeting and leaves
// capabilities negotiation mode. ctx bounds the whole session.
func dialQMP(ctx context.Context, sock string) (*qmpConn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		return nil, fmt.Errorf("dialing qmp %s: %w", sock, err)
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(defaultQMPTimeout)
	}
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	q := &qmpConn{conn: conn, r: bufio.NewReader(conn), stop: stop}
	closeOnErr := func(err error) (*qmpConn, error) {
		_ = q.Close()
		return nil, err
	}
	var greeting struct {
		QMP *json.RawMessage `json:"QMP"`
	}
	line, err := q.r.ReadBytes('\n')
	if err != nil {
		return closeOnErr(fmt.Errorf("reading qmp greeting: %w", err))
	}
	if err := json.Unmarshal(line, &greeting); err != nil || greeting.QMP == nil {
		return closeOnErr(fmt.Errorf("reading qmp greeting: unexpected %q", line))
	}
	if err := q.execute("qmp_capabilities", nil, nil); err != nil {
		return closeOnErr(err)
	}
	return q, nil
}

// execute runs one command; out (if non-nil) receives the "return" value.
// Asynchronous events arriving before the answer are skipped.
func (q *qmpConn) execute(cmd string, args any, out any) error {
	req := map[string]any{"execute": cmd}
	if args != nil {
		req["arguments"] = args
	}
	b, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("encoding qmp %s: %w", cmd, err)
	}
	if _, err := q.conn.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("sending qmp %s: %w", cmd, err)
	}
	for {
		line, err := q.r.ReadBytes('\n')
		if err != nil {
			return fmt.Errorf("reading qmp %s answer: %w", cmd, err)
		}
		var resp struct {
			Return json.RawMessage `json:"return"`
			Error  *QMPError       `json:"error"`
			Event  string          `json:"event"`
		}
		if err := json.Unmarshal(line, &resp); err != nil {
			return fmt.Errorf("decoding qmp %s answer %q: %w", cmd, line, err)
		}
		switch {
		case resp.Error != nil:
			return fmt.Errorf("running qmp %s: %w", cmd, resp.Error)
		case resp.Return != nil:
			if out == nil {
				return nil
			}
			if err := json.Unmarshal(resp.Return, out); err != nil {
				return fmt.Errorf("decoding qmp %s return: %w", cmd, err)
			}
			return nil
		case resp.Event != "":
			continue
		default:
			return fmt.Errorf("reading qmp %s answer: unexpected %q", cmd, line)
		}
	}
}

func (q *qmpConn) Close() error {
	q.stop()
	return q.conn.Close()
}

// qmpDo runs one command in its own session.
func qmpDo(ctx context.Context, sock, cmd string, args, out any) error {
	q, err := dialQMP(ctx, sock)
	if err != nil {
		return err
	}
	defer q.Close()
	return q.execute(cmd, args, out)
}

// qmpStatus returns query-status's "status" ("running", "paused", ...).
func qmpStatus(ctx context.Context, sock string) (string, error) {
	var st struct {
		Status string `json:"status"`
	}
	if err := qmpDo(ctx, sock, "query-status", nil, &st); err != nil {
		return "", err
	}
	if st.Status == "" {
		return "", errors.New("query-status: empty status")
	}
	return st.Status, nil
}
