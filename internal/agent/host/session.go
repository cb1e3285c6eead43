package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"banger/internal/agent/proto"
)

// StartSession starts a detached session. Preflight failures (missing cwd,
// command not on the session's PATH) wrap proto.ErrPreflight and record
// nothing. If the process exited within the launch window the returned
// info has State exited, Exit and StderrTail set.
func (c *Client) StartSession(ctx context.Context, req proto.ExecRequest, opts proto.StartRequest) (proto.SessionInfo, error) {
	resp, err := c.do(ctx, proto.Request{Op: proto.OpSessionStart, Exec: &req, Start: &opts})
	return session(resp, err)
}

func session(resp proto.Response, err error) (proto.SessionInfo, error) {
	if err != nil {
		return proto.SessionInfo{}, err
	}
	if resp.Session == nil {
		return proto.SessionInfo{}, errors.New("agent response without session")
	}
	return *resp.Session, nil
}

// ListSessions lists every session, oldest first.
func (c *Client) ListSessions(ctx context.Context) ([]proto.SessionInfo, error) {
	resp, err := c.do(ctx, proto.Request{Op: proto.OpSessionList})
	return resp.Sessions, err
}

// GetSession returns a session by id or name (proto.ErrNotFound if none).
func (c *Client) GetSession(ctx context.Context, id string) (proto.SessionInfo, error) {
	return session(c.do(ctx, proto.Request{Op: proto.OpSessionGet, ID: id}))
}

// Attach replays the session's scrollback to stdout/stderr, then follows
// its live output. Writes to the returned Process go to the session's
// stdin; Wait returns its exit status once it ends (at once, after the
// replay, for an ended session); Close detaches and leaves it running.
func (c *Client) Attach(ctx context.Context, id string, stdout, stderr io.Writer) (*Process, proto.SessionInfo, error) {
	cl, resp, err := c.open(ctx, proto.Request{Op: proto.OpSessionAttach, ID: id})
	if err != nil {
		return nil, proto.SessionInfo{}, err
	}
	var info proto.SessionInfo
	if resp.Session != nil {
		info = *resp.Session
	}
	return startProcess(cl, stdout, stderr), info, nil
}

// Logs copies the session's scrollback as it is now to frames, as encoded
// stdout/stderr frames followed, for an ended session, by its exit frame.
// It never follows the output.
func (c *Client) Logs(ctx context.Context, id string, frames io.Writer) (proto.SessionInfo, error) {
	cl, resp, err := c.open(ctx, proto.Request{Op: proto.OpSessionLogs, ID: id})
	if err != nil {
		return proto.SessionInfo{}, err
	}
	defer cl.close()
	var info proto.SessionInfo
	if resp.Session != nil {
		info = *resp.Session
	}
	if _, err := io.Copy(frames, cl.r); err != nil {
		return info, ctxErr(ctx, fmt.Errorf("reading session log: %w", err))
	}
	return info, nil
}

// Signal sends a signal to the session's process group, or with Stop
// sends SIGTERM then SIGKILL after the timeout and returns once it ended.
// A session that already ended gives proto.ErrConflict.
func (c *Client) Signal(ctx context.Context, id string, sig proto.SignalRequest) (proto.SessionInfo, error) {
	return session(c.do(ctx, proto.Request{Op: proto.OpSessionSignal, ID: id, Signal: &sig}))
}

// Remove deletes an ended session's record and scrollback. A running one
// gives proto.ErrConflict unless force, which stops it first. Removing a
// session that does not exist gives proto.ErrNotFound.
func (c *Client) Remove(ctx context.Context, id string, force bool) error {
	_, err := c.do(ctx, proto.Request{Op: proto.OpSessionRemove, ID: id, Force: force})
	return err
}

// PutFile writes r's content to path in the guest with mode (0 = 0644),
// atomically (a temporary file renamed into place). mkdirAll creates
// missing parent directories.
func (c *Client) PutFile(ctx context.Context, path string, mode fs.FileMode, mkdirAll bool, r io.Reader) error {
	cl, _, err := c.open(ctx, proto.Request{Op: proto.OpFilePut,
		File: &proto.FileRequest{Path: path, Mode: uint32(mode.Perm()), MkdirAll: mkdirAll}})
	if err != nil {
		return err
	}
	p := startProcess(cl, nil, nil)
	defer p.Close()
	if _, err := io.Copy(p, r); err != nil {
		return ctxErr(ctx, fmt.Errorf("sending %s: %w", path, err))
	}
	if err := p.CloseStdin(); err != nil {
		return ctxErr(ctx, fmt.Errorf("sending %s: %w", path, err))
	}
	return exitErr(p.Wait())
}

// GetFile copies the guest file at path to w and returns its mode and size.
func (c *Client) GetFile(ctx context.Context, path string, w io.Writer) (proto.FileInfo, error) {
	cl, resp, err := c.open(ctx, proto.Request{Op: proto.OpFileGet, File: &proto.FileRequest{Path: path}})
	if err != nil {
		return proto.FileInfo{}, err
	}
	var fi proto.FileInfo
	if resp.File != nil {
		fi = *resp.File
	}
	return fi, ctxErr(ctx, exitErr(startProcess(cl, w, nil).Wait()))
}

func exitErr(st proto.ExitStatus, err error) error {
	if err != nil {
		return err
	}
	if st.Error != "" {
		return errors.New(st.Error)
	}
	return nil
}
