package firecracker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
)

// client speaks Firecracker's HTTP API over its unix socket.
//
// Firecracker reads a request body only through Content-Length (a chunked
// body counts as empty), so every body is a bytes.Reader with an explicit
// ContentLength; net/http would chunk anything else.
type client struct {
	sock string
	hc   *http.Client
}

func newClient(sock string) *client {
	return &client{
		sock: sock,
		hc: &http.Client{Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "unix", sock)
			},
			DisableCompression: true,
			MaxIdleConns:       1,
		}},
	}
}

// close drops idle connections to the socket.
func (c *client) close() { c.hc.CloseIdleConnections() }

// do sends one request; body (if not nil) is JSON-encoded, a 200 answer is
// decoded into out (if not nil). A 4xx/5xx answer becomes an error carrying
// Firecracker's fault_message.
func (c *client) do(ctx context.Context, method, path string, body, out any) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return fmt.Errorf("encoding %s %s: %w", method, path, err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://localhost"+path, bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("building %s %s: %w", method, path, err)
	}
	req.ContentLength = int64(len(payload))
	if body == nil {
		req.Body = http.NoBody
	} else {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("calling firecracker %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("reading answer to %s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		var f struct {
			FaultMessage string `json:"fault_message"`
		}
		msg := strings.TrimSpace(string(raw))
		if json.Unmarshal(raw, &f) == nil && f.FaultMessage != "" {
			msg = f.FaultMessage
		}
		return fmt.Errorf("firecracker %s %s: %s (HTTP %d)", method, path, msg, resp.StatusCode)
	}
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("decoding answer to %s %s: %w", method, path, err)
		}
	}
	return nil
}

// instanceInfo is GET / of the API.
type instanceInfo struct {
	ID         string `json:"id"`
	State      string `json:"state"`
	VMMVersion string `json:"vmm_version"`
}

func (c *client) describe(ctx context.Context) (instanceInfo, error) {
	var info instanceInfo
	err := c.do(ctx, http.MethodGet, "/", nil, &info)
	return info, err
}
