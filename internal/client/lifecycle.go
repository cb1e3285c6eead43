package client

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"banger/internal/api"
)

func (c *Client) vmAction(ctx context.Context, name, action string) (*api.VM, error) {
	return call[*api.VM](ctx, c, http.MethodPost, "/vms/"+url.PathEscape(name)+"/"+action, nil)
}

// StartVM boots a stopped VM and waits until it is ready.
func (c *Client) StartVM(ctx context.Context, name string) (*api.VM, error) {
	return c.vmAction(ctx, name, "start")
}

// StopVM shuts a VM down gracefully (killing it after the daemon's timeout).
func (c *Client) StopVM(ctx context.Context, name string) (*api.VM, error) {
	return c.vmAction(ctx, name, "stop")
}

// KillVM ends a VM's VMM process at once.
func (c *Client) KillVM(ctx context.Context, name string) (*api.VM, error) {
	return c.vmAction(ctx, name, "kill")
}

// SSHInfo says how to log into a running VM.
func (c *Client) SSHInfo(ctx context.Context, name string) (*api.SSHInfo, error) {
	return call[*api.SSHInfo](ctx, c, http.MethodGet, "/vms/"+url.PathEscape(name)+"/ssh", nil)
}

// ImportKernel imports a kernel (the host's newest when req.Kernel is "").
func (c *Client) ImportKernel(ctx context.Context, req api.ImportKernelRequest) (*api.Kernel, error) {
	return call[*api.Kernel](ctx, c, http.MethodPost, "/kernels", req)
}

// Logs copies a VM's serial console log to w.
func (c *Client) Logs(ctx context.Context, name string, w io.Writer) error {
	resp, err := c.stream(ctx, http.MethodGet, "/vms/"+url.PathEscape(name)+"/logs", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(w, resp.Body)
	return err
}

// BootstrapImage builds a base image, calling progress for each event the
// daemon streams, and returns the image.
func (c *Client) BootstrapImage(ctx context.Context, req api.BootstrapImageRequest, progress func(api.Event)) (*api.Image, error) {
	resp, err := c.stream(ctx, http.MethodPost, "/images/bootstrap", req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var ev api.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return nil, fmt.Errorf("decoding daemon progress: %w", err)
		}
		switch {
		case ev.Error != nil:
			return nil, ev.Error
		case ev.Image != nil:
			return ev.Image, nil
		}
		progress(ev)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading daemon progress: %w", err)
	}
	return nil, fmt.Errorf("the daemon ended the image build without a result (see its log)")
}

// stream sends a request and returns the response for the caller to read;
// non-2xx answers become *api.Error.
func (c *Client) stream(ctx context.Context, method, path string, in any) (*http.Response, error) {
	req, err := newRequest(ctx, method, path, in)
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.connError(err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return nil, decodeError(resp.StatusCode, data)
	}
	return resp, nil
}
