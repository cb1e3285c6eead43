package firecracker

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"banger/internal/vmm"
)

// instance is one firecracker process, either spawned by this driver (a
// child, reaped by cmd.Wait) or adopted through Attach (polled through
// /proc with its start time).
type instance struct {
	st        vmm.State
	api       *client
	agentPort uint32
	done      chan struct{} // closed once the process is gone
	exitErr   error         // set before done closes (children only)
}

var _ vmm.Instance = (*instance)(nil)

func newChildInstance(cmd *exec.Cmd, st vmm.State, port uint32) *instance {
	i := &instance{st: st, api: newClient(st.ControlSock), agentPort: port, done: make(chan struct{})}
	go func() {
		i.exitErr = cmd.Wait()
		i.api.close()
		close(i.done)
	}()
	return i
}

// pollInterval is how often an adopted process is checked for exit.
const pollInterval = 50 * time.Millisecond

func newAdoptedInstance(st vmm.State, api *client, port uint32) *instance {
	i := &instance{st: st, api: api, agentPort: port, done: make(chan struct{})}
	go func() {
		t := time.NewTicker(pollInterval)
		defer t.Stop()
		for range t.C {
			if !vmm.ProcessAlive(st.PID, st.PIDStart) {
				i.api.close()
				close(i.done)
				return
			}
		}
	}()
	return i
}

// State implements vmm.Instance.
func (i *instance) State() vmm.State { return i.st }

// Running implements vmm.Instance.
func (i *instance) Running() bool {
	select {
	case <-i.done:
		return false
	default:
		return true
	}
}

// Wait implements vmm.Instance: nil once the process is gone, ctx's error
// if ctx ends first.
func (i *instance) Wait(ctx context.Context) error {
	select {
	case <-i.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for firecracker pid %d: %w", i.st.PID, ctx.Err())
	}
}

// Shutdown implements vmm.Instance: Ctrl-Alt-Del makes the guest reset
// (reboot=k) and Firecracker exit; a guest that ignores it is killed when
// ctx ends. Idempotent.
func (i *instance) Shutdown(ctx context.Context) error {
	if !i.Running() {
		return nil
	}
	if err := i.api.do(ctx, "PUT", "/actions", action{ActionType: "SendCtrlAltDel"}, nil); err == nil {
		select {
		case <-i.done:
			return nil
		case <-ctx.Done():
		}
	}
	// Ctrl-Alt-Del refused (not booted, API gone) or ignored until ctx's
	// end: kill, under a context of our own since ctx may be over.
	kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	return i.Kill(kctx)
}

// Kill implements vmm.Instance: SIGKILL, then wait for the process to go.
// Idempotent.
func (i *instance) Kill(ctx context.Context) error {
	if !i.Running() {
		return nil
	}
	// For an adopted process, check the start time again right before the
	// signal so a reused PID is never hit.
	if i.st.PIDStart != 0 && !vmm.ProcessAlive(i.st.PID, i.st.PIDStart) {
		return i.Wait(ctx)
	}
	if err := killPID(i.st.PID); err != nil {
		return fmt.Errorf("killing firecracker pid %d: %w", i.st.PID, err)
	}
	return i.Wait(ctx)
}

// agentRetry is the pause between handshakes while the guest listener is
// not up yet.
const agentRetry = 50 * time.Millisecond

// DialAgent implements vmm.Instance: each call opens a new vsock stream to
// the agent port. Until the guest listens, Firecracker closes the
// connection without answering; DialAgent retries until ctx ends.
func (i *instance) DialAgent(ctx context.Context) (net.Conn, error) {
	var lastErr error
	for {
		if !i.Running() {
			return nil, errNotRunning("firecracker pid %d exited", i.st.PID)
		}
		c, err := i.handshake(ctx)
		if err == nil {
			return c, nil
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("dialing guest agent on vsock port %d: %w (last attempt: %v)", i.agentPort, ctx.Err(), lastErr)
		case <-i.done:
		case <-time.After(agentRetry):
		}
	}
}

// handshake performs one "CONNECT port" / "OK hostport" exchange.
func (i *instance) handshake(ctx context.Context) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, "unix", i.st.AgentSock)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", i.st.AgentSock, err)
	}
	deadline := time.Now().Add(2 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = c.SetDeadline(deadline)
	if _, err := fmt.Fprintf(c, "CONNECT %d\n", i.agentPort); err != nil {
		c.Close()
		return nil, fmt.Errorf("writing CONNECT: %w", err)
	}
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("reading vsock handshake answer: %w", err)
	}
	hostPort, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "OK ")
	if _, perr := strconv.ParseUint(hostPort, 10, 32); !ok || perr != nil {
		c.Close()
		return nil, fmt.Errorf("unexpected vsock handshake answer %q", line)
	}
	_ = c.SetDeadline(time.Time{})
	return &bufferedConn{Conn: c, r: br}, nil
}

// bufferedConn keeps bytes the handshake reader may have read past "OK".
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }

// CloseWrite half-closes when the underlying conn supports it.
func (b *bufferedConn) CloseWrite() error {
	if cw, ok := b.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
