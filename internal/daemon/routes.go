package daemon

import (
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"time"

	"banger/internal/api"
	"banger/internal/store"
)

func (d *Daemon) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern string, h func(*http.Request) (int, any, error)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			status, body, err := h(r)
			switch {
			case err != nil:
				e := errorFor(err)
				status = e.HTTPStatus()
				if e.Code == api.CodeInternal {
					d.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
				}
				writeError(w, e)
			case status == http.StatusNoContent:
				w.WriteHeader(status)
			default:
				writeJSON(w, status, body)
			}
			d.log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", status, "took", time.Since(start))
		})
	}
	v := "/" + api.Version
	handle("GET "+v+"/version", d.version)
	handle("GET "+v+"/healthz", func(*http.Request) (int, any, error) {
		return http.StatusOK, api.Health{Status: "ok"}, nil
	})
	handle("GET "+v+"/vms", d.listVMs)
	handle("POST "+v+"/vms", d.createVM)
	handle("GET "+v+"/vms/{name}", d.getVM)
	handle("DELETE "+v+"/vms/{name}", d.removeVM)
	handle("POST "+v+"/vms/{name}/start", d.vmAction((*Lifecycle).Start))
	handle("POST "+v+"/vms/{name}/stop", d.vmAction((*Lifecycle).Stop))
	handle("POST "+v+"/vms/{name}/kill", d.vmAction((*Lifecycle).Kill))
	handle("GET "+v+"/vms/{name}/ssh", d.vmSSH)
	mux.HandleFunc("GET "+v+"/vms/{name}/logs", d.vmLogs)
	handle("POST "+v+"/kernels", d.importKernel)
	mux.HandleFunc("POST "+v+"/images/bootstrap", d.bootstrapImage)
	handle("GET "+v+"/images", d.listImages)
	handle("GET "+v+"/images/{name}", d.getImage)
	handle("DELETE "+v+"/images/{name}", d.removeImage)
	handle("GET "+v+"/kernels", d.listKernels)
	handle("GET "+v+"/kernels/{name}", d.getKernel)
	handle("DELETE "+v+"/kernels/{name}", d.removeKernel)
	handle("POST "+v+"/system/teardown", d.teardown)
	d.sessionRoutes(mux, handle)
	return jsonMux(mux)
}

func (d *Daemon) version(*http.Request) (int, any, error) {
	return http.StatusOK, api.VersionInfo{Version: d.deps.Version, GoVersion: runtime.Version(), API: api.Version}, nil
}

// pathName returns the {name} path value after checking it against the
// name rule (ids satisfy it too).
func pathName(r *http.Request, kind string) (string, error) {
	name := r.PathValue("name")
	if err := api.ValidateName(kind, name); err != nil {
		return "", err
	}
	return name, nil
}

// force parses the ?force= query parameter (absent means false).
func force(r *http.Request) (bool, error) {
	s := r.URL.Query().Get("force")
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, api.Errorf(api.CodeInvalidArgument, "query parameter force=%q is not a boolean: use force=1 or force=0", s)
	}
	return b, nil
}

func (d *Daemon) teardown(r *http.Request) (int, any, error) {
	f, err := force(r)
	if err != nil {
		return 0, nil, err
	}
	if d.deps.Network == nil {
		return http.StatusOK, api.TeardownResult{Message: "no host network is configured: nothing recorded to remove"}, nil
	}
	if !f {
		if err := d.refuseIfRunning(r); err != nil {
			return 0, nil, err
		}
	}
	if err := d.deps.Network.Teardown(r.Context()); err != nil {
		return 0, nil, err
	}
	res := api.TeardownResult{Done: true, Message: "removed every recorded bridge, tap and firewall table"}
	if ll, ok := d.deps.Network.(LeftoverLister); ok {
		left, err := ll.Leftovers(r.Context())
		if err != nil {
			return 0, nil, fmt.Errorf("checking for leftovers after teardown: %w", err)
		}
		for _, o := range left {
			res.Leftovers = append(res.Leftovers, o.Kind+" "+o.Name)
		}
	}
	d.log.Info("host network torn down", "leftovers", res.Leftovers)
	return http.StatusOK, res, nil
}

// refuseIfRunning fails with a conflict naming the running VMs, which
// would lose their network in a teardown.
func (d *Daemon) refuseIfRunning(r *http.Request) error {
	vms, err := d.deps.VMs.List(r.Context())
	if err != nil {
		return err
	}
	var running []string
	for _, v := range vms {
		if v.State == store.VMRunning {
			running = append(running, v.Name)
		}
	}
	if len(running) == 0 {
		return nil
	}
	return &api.Error{Code: api.CodeConflict,
		Message: "VMs are running and would lose their network: " + joinNames(running),
		Hint:    "stop them first, or tear down anyway with --force"}
}
