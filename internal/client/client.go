// Package client is the typed client of the banger daemon API over its
// unix socket. Every error it returns for a daemon answer is an *api.Error;
// a daemon that cannot be reached gives an *api.Error that says how to
// start it or get access.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"

	"banger/internal/api"
)

// Client talks to one daemon. It is safe for concurrent use.
type Client struct {
	socket string
	hc     *http.Client
}

// New returns a client for the daemon at socketPath. It does not connect.
func New(socketPath string) *Client {
	return &Client{
		socket: socketPath,
		hc: &http.Client{Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "unix", socketPath)
			},
		}},
	}
}

// newRequest builds a request for path under the API version, with in (if
// non-nil) as its JSON body.
func newRequest(ctx context.Context, method, path string, in any) (*http.Request, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encoding request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://banger/"+api.Version+path, body)
	if err != nil {
		return nil, fmt.Errorf("building request: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// do sends method path with in (if non-nil) as JSON and decodes the
// answer into out (if non-nil).
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	req, err := newRequest(ctx, method, path, in)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return c.connError(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("reading daemon response: %w", err)
	}
	if resp.StatusCode >= 300 {
		return decodeError(resp.StatusCode, data)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decoding daemon response to %s %s: %w", method, path, err)
	}
	return nil
}

// decodeError turns a non-2xx answer into an *api.Error, even when the
// body is not the daemon's JSON (a different program on the socket).
func decodeError(status int, data []byte) error {
	var eb api.ErrorBody
	if err := json.Unmarshal(data, &eb); err == nil && eb.Error != nil && eb.Error.Message != "" {
		eb.Error.Status = status
		return eb.Error
	}
	msg := bytes.TrimSpace(data)
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return &api.Error{Code: api.CodeForStatus(status), Status: status,
		Message: fmt.Sprintf("daemon answered HTTP %d: %s", status, msg)}
}

// connError explains why the daemon could not be reached.
func (c *Client) connError(err error) error {
	switch {
	case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.ECONNREFUSED):
		return &api.Error{Code: api.CodeUnavailable,
			Message: fmt.Sprintf("banger daemon is not running (socket %s)", c.socket),
			Hint:    "start it with `sudo systemctl start banger` or `sudo banger daemon`"}
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return &api.Error{Code: api.CodePermissionDenied,
			Message: fmt.Sprintf("permission denied on the banger daemon socket %s", c.socket),
			Hint:    "run banger with sudo, or join the `banger` group: sudo usermod -aG banger $USER (then log in again)"}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return &api.Error{Code: api.CodeUnavailable,
		Message: fmt.Sprintf("talking to the banger daemon on %s: %v", c.socket, err),
		Hint:    "check the daemon's log: `journalctl -u banger`"}
}

// call is do with a typed result; the zero T on error.
func call[T any](ctx context.Context, c *Client, method, path string, in any) (T, error) {
	var out T
	if err := c.do(ctx, method, path, in, &out); err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

func (c *Client) Version(ctx context.Context) (*api.VersionInfo, error) {
	return call[*api.VersionInfo](ctx, c, http.MethodGet, "/version", nil)
}

func (c *Client) Health(ctx context.Context) (*api.Health, error) {
	return call[*api.Health](ctx, c, http.MethodGet, "/healthz", nil)
}

func (c *Client) ListVMs(ctx context.Context) ([]api.VM, error) {
	return call[[]api.VM](ctx, c, http.MethodGet, "/vms", nil)
}

func (c *Client) GetVM(ctx context.Context, name string) (*api.VM, error) {
	return call[*api.VM](ctx, c, http.MethodGet, "/vms/"+url.PathEscape(name), nil)
}

func (c *Client) CreateVM(ctx context.Context, req api.CreateVMRequest) (*api.VM, error) {
	return call[*api.VM](ctx, c, http.MethodPost, "/vms", req)
}

// DeleteVM removes a VM; force removes a running one too.
func (c *Client) DeleteVM(ctx context.Context, name string, force bool) error {
	return c.do(ctx, http.MethodDelete, "/vms/"+url.PathEscape(name)+forceQuery(force), nil, nil)
}

func (c *Client) ListImages(ctx context.Context) ([]api.Image, error) {
	return call[[]api.Image](ctx, c, http.MethodGet, "/images", nil)
}

func (c *Client) GetImage(ctx context.Context, name string) (*api.Image, error) {
	return call[*api.Image](ctx, c, http.MethodGet, "/images/"+url.PathEscape(name), nil)
}

func (c *Client) DeleteImage(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/images/"+url.PathEscape(name), nil, nil)
}

func (c *Client) ListKernels(ctx context.Context) ([]api.Kernel, error) {
	return call[[]api.Kernel](ctx, c, http.MethodGet, "/kernels", nil)
}

func (c *Client) GetKernel(ctx context.Context, name string) (*api.Kernel, error) {
	return call[*api.Kernel](ctx, c, http.MethodGet, "/kernels/"+url.PathEscape(name), nil)
}

func (c *Client) DeleteKernel(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/kernels/"+url.PathEscape(name), nil, nil)
}

// Teardown removes banger's host network; force even with VMs running.
func (c *Client) Teardown(ctx context.Context, force bool) (*api.TeardownResult, error) {
	return call[*api.TeardownResult](ctx, c, http.MethodPost, "/system/teardown"+forceQuery(force), nil)
}

func forceQuery(force bool) string {
	if force {
		return "?force=1"
	}
	return ""
}
