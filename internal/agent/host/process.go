package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"banger/internal/agent/proto"
)

// ErrNoExit is returned by Wait when the stream ended without an exit
// frame (the agent went away, or Detach was called).
var ErrNoExit = errors.New("agent stream ended without an exit status")

// Process is a running exec or an attachment to a session. Its output
// goes to the writers given when it was started, from one goroutine.
type Process struct {
	call   *call
	done   chan struct{}
	status proto.ExitStatus
	err    error
	once   sync.Once
}

// start runs the output loop of an opened call.
func startProcess(cl *call, stdout, stderr io.Writer) *Process {
	p := &Process{call: cl, done: make(chan struct{})}
	go p.read(stdout, stderr)
	return p
}

func (p *Process) read(stdout, stderr io.Writer) {
	defer close(p.done)
	for {
		f, err := proto.ReadFrame(p.call.r)
		if err != nil {
			p.err = fmt.Errorf("%w: %w", ErrNoExit, err)
			return
		}
		var w io.Writer
		switch f.Type {
		case proto.FrameStdout:
			w = stdout
		case proto.FrameStderr:
			w = stderr
		case proto.FrameExit:
			p.status, p.err = proto.ParseExit(f.Payload)
			return
		default:
			p.err = fmt.Errorf("unexpected %s frame from agent", f.Type)
			return
		}
		if w != nil {
			if _, err := w.Write(f.Payload); err != nil {
				p.err = fmt.Errorf("writing %s: %w", f.Type, err)
				return
			}
		}
	}
}

// Write sends p to the process's stdin. It is safe for concurrent use.
func (p *Process) Write(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		c := min(len(b), 32<<10)
		if err := p.call.frame(proto.FrameStdin, b[:c]); err != nil {
			return n, err
		}
		n, b = n+c, b[c:]
	}
	return n, nil
}

// CloseStdin signals end of input (in a session: for the session's
// process, not only for this attacher). On a pty it sends ^D.
func (p *Process) CloseStdin() error { return p.call.frame(proto.FrameStdinClose, nil) }

// Resize changes the pty size; without a pty it does nothing.
func (p *Process) Resize(s proto.WinSize) error {
	return p.call.frame(proto.FrameResize, proto.ResizePayload(s))
}

// Signal sends a signal ("INT", "TERM", ...) to the process group.
func (p *Process) Signal(name string) error { return p.call.frame(proto.FrameSignal, []byte(name)) }

// Wait returns the exit status once the process (or session) has ended
// and all output was written. It may be called several times.
func (p *Process) Wait() (proto.ExitStatus, error) {
	<-p.done
	p.Close()
	return p.status, p.err
}

// Done is closed when the output loop ended.
func (p *Process) Done() <-chan struct{} { return p.done }

// Close closes the stream: an exec'd process is then killed, a session
// keeps running (detach). A second call does nothing.
func (p *Process) Close() error {
	p.once.Do(p.call.close)
	return nil
}

// ExecIO wires an Exec. Nil readers/writers are empty/discarded.
type ExecIO struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Resize         <-chan proto.WinSize
	Signal         <-chan string
}

// Start runs req in the guest and returns once it started.
func (c *Client) Start(ctx context.Context, req proto.ExecRequest, stdout, stderr io.Writer) (*Process, error) {
	cl, _, err := c.open(ctx, proto.Request{Op: proto.OpExec, Exec: &req})
	if err != nil {
		return nil, err
	}
	return startProcess(cl, stdout, stderr), nil
}

// Exec runs req to completion: stdin is streamed (then closed), resize and
// signal requests are forwarded, and the exit status is returned (a
// process killed by signal n has Code 128+n). ctx kills the process. Like
// os/exec, a Stdin that blocks keeps one goroutine until it returns.
func (c *Client) Exec(ctx context.Context, req proto.ExecRequest, eio ExecIO) (proto.ExitStatus, error) {
	p, err := c.Start(ctx, req, eio.Stdout, eio.Stderr)
	if err != nil {
		return proto.ExitStatus{}, err
	}
	defer p.Close()
	p.forward(eio.Stdin, true, eio.Resize, eio.Signal)
	st, err := p.Wait()
	return st, ctxErr(ctx, err)
}

// forward copies stdin (closing it at EOF when closeAtEOF) and the resize
// and signal channels to the process until it ends.
func (p *Process) forward(stdin io.Reader, closeAtEOF bool, resize <-chan proto.WinSize, signal <-chan string) {
	if stdin != nil {
		go func() {
			if _, err := io.Copy(p, stdin); err == nil && closeAtEOF {
				p.CloseStdin()
			}
		}()
	} else if closeAtEOF {
		p.CloseStdin()
	}
	if resize == nil && signal == nil {
		return
	}
	go func() {
		for {
			select {
			case <-p.done:
				return
			case s, ok := <-resize:
				if !ok {
					resize = nil
					continue
				}
				p.Resize(s)
			case sig, ok := <-signal:
				if !ok {
					signal = nil
					continue
				}
				p.Signal(sig)
			}
		}
	}()
}
