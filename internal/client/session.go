package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"banger/internal/agent/proto"
	"banger/internal/api"
)

func vmPath(vm string) string { return "/vms/" + url.PathEscape(vm) }

func sessionPath(vm, session string) string {
	return vmPath(vm) + "/sessions/" + url.PathEscape(session)
}

// StartSession starts a detached session. If the process died within the
// launch window the session comes back exited, with its exit code and
// Diagnostics (last stderr lines).
func (c *Client) StartSession(ctx context.Context, vm string, req api.StartSessionRequest) (*api.Session, error) {
	return call[*api.Session](ctx, c, http.MethodPost, vmPath(vm)+"/sessions", req)
}

// ListSessions lists a VM's sessions, or every VM's when vm is "".
func (c *Client) ListSessions(ctx context.Context, vm string) ([]api.Session, error) {
	p := "/sessions"
	if vm != "" {
		p = vmPath(vm) + p
	}
	return call[[]api.Session](ctx, c, http.MethodGet, p, nil)
}

// GetSession shows one session by id or name.
func (c *Client) GetSession(ctx context.Context, vm, session string) (*api.Session, error) {
	return call[*api.Session](ctx, c, http.MethodGet, sessionPath(vm, session), nil)
}

// StopSession sends SIGTERM, then SIGKILL after timeout (0: the agent's
// default, 10s), and returns the ended session.
func (c *Client) StopSession(ctx context.Context, vm, session string, timeout time.Duration) (*api.Session, error) {
	q := ""
	if timeout > 0 {
		q = "?timeout=" + url.QueryEscape(timeout.String())
	}
	return call[*api.Session](ctx, c, http.MethodPost, sessionPath(vm, session)+"/stop"+q, nil)
}

// SignalSession sends one signal to the session's process group.
func (c *Client) SignalSession(ctx context.Context, vm, session, signal string) (*api.Session, error) {
	return call[*api.Session](ctx, c, http.MethodPost, sessionPath(vm, session)+"/signal", api.SignalRequest{Signal: signal})
}

// RemoveSession deletes an ended session (force: stop a running one first).
func (c *Client) RemoveSession(ctx context.Context, vm, session string, force bool) error {
	return c.do(ctx, http.MethodDelete, sessionPath(vm, session)+forceQuery(force), nil, nil)
}

// Attach replays the session's scrollback, then follows it; Write goes to
// its stdin. The returned session says whether it has a terminal.
func (c *Client) Attach(ctx context.Context, vm, session string) (*Stream, *api.Session, error) {
	s, err := c.openStream(ctx, http.MethodPost, sessionPath(vm, session)+"/attach", nil)
	if err != nil {
		return nil, nil, err
	}
	var info api.Session
	if err := json.Unmarshal([]byte(s.Header.Get(api.SessionHeader)), &info); err != nil {
		s.Close()
		return nil, nil, fmt.Errorf("decoding the attached session: %w", err)
	}
	return s, &info, nil
}

// SessionLogs copies the session's scrollback to stdout/stderr; with
// follow it goes on until the session ends (or ctx does). It returns the
// exit status once the session has ended, nil while it runs.
func (c *Client) SessionLogs(ctx context.Context, vm, session string, follow bool, stdout, stderr io.Writer) (*proto.ExitStatus, error) {
	q := ""
	if follow {
		q = "?follow=1"
	}
	resp, err := c.stream(ctx, http.MethodGet, sessionPath(vm, session)+"/logs"+q, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	st, err := copyOutput(resp.Body, stdout, stderr)
	if err == nil {
		return &st, nil
	}
	if !follow && ctx.Err() == nil && errors.Is(err, io.EOF) {
		return nil, nil // a running session: its log so far
	}
	return nil, err
}
