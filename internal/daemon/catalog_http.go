package daemon

import (
	"encoding/json"
	"net/http"
	"os"
	"sync"
	"time"

	"banger/internal/api"
	"banger/internal/image"
)

func (d *Daemon) catalog() (*Catalog, error) {
	if d.deps.Catalog == nil {
		return nil, &api.Error{Code: api.CodeUnavailable, Status: http.StatusNotImplemented,
			Message: "this daemon cannot import kernels or build images"}
	}
	return d.deps.Catalog, nil
}

func (d *Daemon) importKernel(r *http.Request) (int, any, error) {
	var req api.ImportKernelRequest
	if err := decodeJSON(r, &req); err != nil {
		return 0, nil, err
	}
	c, err := d.catalog()
	if err != nil {
		return 0, nil, err
	}
	k, err := c.ImportKernel(r.Context(), req)
	if err != nil {
		return 0, nil, err
	}
	d.log.Info("kernel imported", "kernel", k.Name, "version", k.Version)
	return http.StatusCreated, kernelView(k), nil
}

// bootstrapImage answers with NDJSON: progress events while debootstrap
// and mkfs run, then one event holding the image or the error.
func (d *Daemon) bootstrapImage(w http.ResponseWriter, r *http.Request) {
	var req api.BootstrapImageRequest
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, err)
		return
	}
	c, err := d.catalog()
	if err != nil {
		writeError(w, errorFor(err))
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	var mu sync.Mutex
	enc := json.NewEncoder(w)
	flusher, _ := w.(http.Flusher)
	send := func(ev api.Event) {
		mu.Lock()
		defer mu.Unlock()
		_ = enc.Encode(ev) // a vanished client does not stop the build
		if flusher != nil {
			flusher.Flush()
		}
	}
	img, err := c.Bootstrap(r.Context(), req, func(p image.Progress) { send(api.Event{Phase: p.Phase, Line: p.Line}) })
	if err != nil {
		d.log.Error("bootstrapping image", "err", err)
		send(api.Event{Error: errorFor(err)})
		return
	}
	d.log.Info("image ready", "image", img.Name)
	kernels, err := d.kernelNames(r)
	if err != nil {
		send(api.Event{Error: errorFor(err)})
		return
	}
	v := imageView(img, kernels)
	send(api.Event{Image: &v})
}

func (d *Daemon) kernelNames(r *http.Request) (names, error) {
	_, kernels, err := d.nameMaps(r.Context())
	return kernels, err
}

func fileModTime(f *os.File) time.Time {
	if fi, err := f.Stat(); err == nil {
		return fi.ModTime()
	}
	return time.Time{}
}
