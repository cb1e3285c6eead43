package daemon

import (
	"net/http"
	"time"

	"banger/internal/agent/proto"
	"banger/internal/api"
)

// vmExec runs a command in a VM over an upgraded stream (see stream.go):
// POST /v1/vms/{name}/exec with an api.ExecRequest body.
func (d *Daemon) vmExec(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	fail := func(err error) {
		e := errorFor(err)
		if e.Code == api.CodeInternal {
			d.log.Error("exec failed", "path", r.URL.Path, "err", err)
		}
		writeError(w, e)
	}
	if err := wantsStream(r); err != nil {
		fail(err)
		return
	}
	var req api.ExecRequest
	if err := decodeJSON(r, &req); err != nil {
		fail(err)
		return
	}
	if err := req.Validate(); err != nil {
		fail(err)
		return
	}
	name, err := pathName(r, "VM")
	if err != nil {
		fail(err)
		return
	}
	v, ag, err := d.vmAgent(r.Context(), name)
	if err != nil {
		fail(err)
		return
	}
	fc := newFrameConn()
	p, err := ag.Start(r.Context(), execRequest(req), fc.writer(proto.FrameStdout), fc.writer(proto.FrameStderr))
	if err != nil {
		fail(agentError(err, "running "+req.Argv[0]+" in VM "+v.Name))
		return
	}
	if err := fc.upgrade(w, nil); err != nil {
		p.Close()
		d.log.Warn("exec: upgrade failed", "vm", v.Name, "err", err)
		return
	}
	st, ok := fc.bridge(p, func() { hangUp(p) })
	d.log.Debug("exec", "vm", v.Name, "argv0", req.Argv[0], "exit", st.Code, "clientStayed", ok, "took", time.Since(start))
}

// execRequest maps the API's request onto the agent's.
func execRequest(req api.ExecRequest) proto.ExecRequest {
	return proto.ExecRequest{Argv: req.Argv, Cwd: req.Cwd, Env: req.Env, TTY: req.TTY,
		Size: proto.WinSize{Rows: req.Rows, Cols: req.Cols}}
}
