package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"banger/internal/agent/host"
	"banger/internal/agent/proto"
	"banger/internal/api"
	"banger/internal/store"
)

// Agents hands out the guest-agent client of a running VM (vm.Manager via
// Lifecycle). The client is shared: callers must not Close it. A VM that
// is not running gives an error wrapping vm.ErrState.
type Agents interface {
	Agent(ctx context.Context, vmName string) (*host.Client, error)
}

// SessionStore is the daemon's record of guest sessions (*store.Store).
// The guest is the source of truth; these rows answer while it cannot.
type SessionStore interface {
	// PutSession upserts by (VMID, ID); idempotent.
	PutSession(ctx context.Context, s *store.Session) error
	// ReplaceSessions makes a VM's rows exactly ss; idempotent.
	ReplaceSessions(ctx context.Context, vmID string, ss []store.Session) error
	// GetSession finds by id or name; store.ErrNotFound if none.
	GetSession(ctx context.Context, vmID, idOrName string) (*store.Session, error)
	// ListSessions lists one VM's sessions ("" for all), oldest first.
	ListSessions(ctx context.Context, vmID string) ([]store.Session, error)
	// DeleteSession removes a row; a second call gives store.ErrNotFound.
	DeleteSession(ctx context.Context, vmID, id string) error
}

var _ SessionStore = (*store.Store)(nil)

// agentTimeout bounds a refresh from one VM's agent in listings, so one
// unresponsive guest does not hang `ls`.
const agentTimeout = 5 * time.Second

func (d *Daemon) sessionStore() (SessionStore, error) {
	ss, ok := d.deps.Store.(SessionStore)
	if !ok {
		return nil, &api.Error{Code: api.CodeUnavailable, Status: http.StatusNotImplemented,
			Message: "this daemon's store cannot record sessions"}
	}
	return ss, nil
}

// vmAgent resolves a running VM and its agent client.
func (d *Daemon) vmAgent(ctx context.Context, name string) (*store.VM, *host.Client, error) {
	v, err := d.deps.VMs.Get(ctx, name)
	if err != nil {
		return nil, nil, notFoundHint(err, "VM", "banger vm ls")
	}
	if v.State != store.VMRunning {
		return nil, nil, &api.Error{Code: api.CodeConflict, Message: fmt.Sprintf("VM %s is %s", v.Name, v.State),
			Hint: "start it with `banger vm start " + v.Name + "`"}
	}
	ags, ok := d.agents()
	if !ok {
		return nil, nil, &api.Error{Code: api.CodeUnavailable, Status: http.StatusNotImplemented,
			Message: "this daemon cannot reach guest agents", Hint: "run `banger doctor`"}
	}
	c, err := ags.Agent(ctx, v.Name)
	if err != nil {
		return nil, nil, lifecycleError(fmt.Errorf("connecting to the agent of VM %s: %w", v.Name, err))
	}
	return v, c, nil
}

// agents is the VMService's Agents, or its vm.Manager's.
func (d *Daemon) agents() (Agents, bool) {
	if a, ok := d.deps.VMs.(Agents); ok {
		return a, true
	}
	if l, ok := d.deps.VMs.(*Lifecycle); ok && l.M != nil {
		return l.M, true
	}
	return nil, false
}

// agentError maps the agent's error codes onto the API's.
func agentError(err error, doing string) error {
	var pe *proto.Error
	if !errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", doing, err)
	}
	msg := doing + ": " + pe.Message
	switch pe.Code {
	case proto.CodeNotFound:
		return &api.Error{Code: api.CodeNotFound, Message: msg}
	case proto.CodeConflict:
		return &api.Error{Code: api.CodeConflict, Message: msg}
	case proto.CodeInvalid, proto.CodePreflight:
		return &api.Error{Code: api.CodeInvalidArgument, Message: msg}
	case proto.CodeUnsupported:
		return &api.Error{Code: api.CodeUnavailable, Message: msg, Hint: "the VM's banger-agent is older than this daemon: rebuild its image"}
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// fromGuest converts the agent's record into the store's.
func fromGuest(vmID string, in proto.SessionInfo) store.Session {
	s := store.Session{ID: in.ID, VMID: vmID, Name: in.Name, Argv: in.Argv, Cwd: in.Cwd, EnvKeys: in.EnvKeys,
		TTY: in.TTY, State: in.State, PID: in.PID, Diagnostics: in.StderrTail,
		CreatedAt: in.CreatedAt, StartedAt: in.StartedAt, EndedAt: in.EndedAt}
	if in.Exit != nil {
		code := in.Exit.Code
		s.ExitCode, s.Signal = &code, in.Exit.Signal
		if in.Exit.Error != "" {
			s.Diagnostics = append(s.Diagnostics, in.Exit.Error)
		}
	}
	return s
}

// sessionView is the API's view. stale marks a record the guest could not
// confirm; a VM that is not running runs no session, so those show lost.
func sessionView(s store.Session, vmName string, vmRunning, stale bool) api.Session {
	out := api.Session{ID: s.ID, Name: s.Name, VM: vmName, Argv: s.Argv, Cwd: s.Cwd, EnvKeys: s.EnvKeys,
		TTY: s.TTY, State: s.State, PID: s.PID, ExitCode: s.ExitCode, Signal: s.Signal,
		Diagnostics: s.Diagnostics, CreatedAt: s.CreatedAt, StartedAt: s.StartedAt, EndedAt: s.EndedAt, Stale: stale}
	if !vmRunning && (s.State == store.SessionRunning || s.State == store.SessionStarting) {
		out.State = store.SessionLost
	}
	return out
}

func sessionName(r *http.Request) (string, error) {
	s := r.PathValue("session")
	if err := api.ValidateName("session", s); err != nil {
		return "", err
	}
	return s, nil
}

func (d *Daemon) startSession(r *http.Request) (int, any, error) {
	var req api.StartSessionRequest
	if err := decodeJSON(r, &req); err != nil {
		return 0, nil, err
	}
	if err := req.Validate(); err != nil {
		return 0, nil, err
	}
	name, err := pathName(r, "VM")
	if err != nil {
		return 0, nil, err
	}
	ss, err := d.sessionStore()
	if err != nil {
		return 0, nil, err
	}
	v, ag, err := d.vmAgent(r.Context(), name)
	if err != nil {
		return 0, nil, err
	}
	info, err := ag.StartSession(r.Context(), execRequest(req.ExecRequest), proto.StartRequest{Name: req.Name})
	if err != nil {
		return 0, nil, agentError(err, "starting a session in VM "+v.Name)
	}
	s := fromGuest(v.ID, info)
	// The guest has it whatever happens here: a failed record is redone
	// from the guest's list by the next ls.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), agentTimeout)
	defer cancel()
	if err := ss.PutSession(ctx, &s); err != nil {
		return 0, nil, fmt.Errorf("recording session %s of VM %s: %w", s.ID, v.Name, err)
	}
	d.log.Info("session started", "vm", v.Name, "session", s.ID, "name", s.Name, "state", s.State)
	return http.StatusCreated, sessionView(s, v.Name, true, false), nil
}

// refresh asks the VM's agent for its sessions and records them; when it
// cannot, the stored rows are returned marked stale.
func (d *Daemon) refresh(ctx context.Context, ss SessionStore, v *store.VM) ([]api.Session, error) {
	rows, stale := []store.Session(nil), true
	if v.State == store.VMRunning {
		if ags, ok := d.agents(); ok {
			actx, cancel := context.WithTimeout(ctx, agentTimeout)
			infos, err := listGuest(actx, ags, v.Name)
			cancel()
			if err == nil {
				for _, in := range infos {
					rows = append(rows, fromGuest(v.ID, in))
				}
				if err := ss.ReplaceSessions(ctx, v.ID, rows); err != nil {
					return nil, err
				}
				stale = false
			} else {
				d.log.Warn("listing sessions from the guest failed; answering from the record", "vm", v.Name, "err", err)
			}
		}
	}
	if stale {
		var err error
		if rows, err = ss.ListSessions(ctx, v.ID); err != nil {
			return nil, err
		}
	}
	out := make([]api.Session, 0, len(rows))
	for _, s := range rows {
		out = append(out, sessionView(s, v.Name, v.State == store.VMRunning, stale))
	}
	return out, nil
}

func listGuest(ctx context.Context, ags Agents, vmName string) ([]proto.SessionInfo, error) {
	c, err := ags.Agent(ctx, vmName)
	if err != nil {
		return nil, err
	}
	return c.ListSessions(ctx)
}

// listSessions answers GET /v1/vms/{name}/sessions and, without a name,
// GET /v1/sessions (every VM's).
func (d *Daemon) listSessions(r *http.Request) (int, any, error) {
	ss, err := d.sessionStore()
	if err != nil {
		return 0, nil, err
	}
	var vms []store.VM
	if r.PathValue("name") == "" {
		if vms, err = d.deps.VMs.List(r.Context()); err != nil {
			return 0, nil, err
		}
	} else {
		name, err := pathName(r, "VM")
		if err != nil {
			return 0, nil, err
		}
		v, err := d.deps.VMs.Get(r.Context(), name)
		if err != nil {
			return 0, nil, notFoundHint(err, "VM", "banger vm ls")
		}
		vms = []store.VM{*v}
	}
	out := []api.Session{}
	for i := range vms {
		l, err := d.refresh(r.Context(), ss, &vms[i])
		if err != nil {
			return 0, nil, err
		}
		out = append(out, l...)
	}
	return http.StatusOK, out, nil
}

// lookup finds one session: from the guest when the VM runs (recording
// what it says), else from the record.
func (d *Daemon) lookup(ctx context.Context, r *http.Request) (*store.VM, api.Session, error) {
	ss, err := d.sessionStore()
	if err != nil {
		return nil, api.Session{}, err
	}
	name, err := pathName(r, "VM")
	if err != nil {
		return nil, api.Session{}, err
	}
	sname, err := sessionName(r)
	if err != nil {
		return nil, api.Session{}, err
	}
	v, err := d.deps.VMs.Get(ctx, name)
	if err != nil {
		return nil, api.Session{}, notFoundHint(err, "VM", "banger vm ls")
	}
	if v.State == store.VMRunning {
		if _, ag, err := d.vmAgent(ctx, v.Name); err == nil {
			info, err := ag.GetSession(ctx, sname)
			if err != nil {
				return nil, api.Session{}, sessionNotFound(agentError(err, "getting session "+sname+" of VM "+v.Name), v.Name)
			}
			s := fromGuest(v.ID, info)
			if err := ss.PutSession(ctx, &s); err != nil {
				return nil, api.Session{}, err
			}
			return v, sessionView(s, v.Name, true, false), nil
		}
	}
	s, err := ss.GetSession(ctx, v.ID, sname)
	if err != nil {
		return nil, api.Session{}, sessionNotFound(err, v.Name)
	}
	return v, sessionView(*s, v.Name, v.State == store.VMRunning, true), nil
}

func sessionNotFound(err error, vmName string) error {
	return notFoundHint(err, "session", "banger vm session ls "+vmName)
}

func (d *Daemon) getSession(r *http.Request) (int, any, error) {
	_, s, err := d.lookup(r.Context(), r)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, s, nil
}

// signalSession sends one signal (POST .../signal) or, for .../stop,
// SIGTERM then SIGKILL after ?timeout= (default 10s), answering once the
// session ended.
func (d *Daemon) signalSession(stop bool) func(*http.Request) (int, any, error) {
	return func(r *http.Request) (int, any, error) {
		var sr proto.SignalRequest
		if stop {
			sr.Stop = true
			if t := r.URL.Query().Get("timeout"); t != "" {
				dur, err := time.ParseDuration(t)
				if err != nil || dur <= 0 {
					return 0, nil, api.Errorf(api.CodeInvalidArgument, "timeout %q is not a positive duration such as 10s", t)
				}
				sr.TimeoutMS = int(dur.Milliseconds())
			}
		} else {
			var req api.SignalRequest
			if err := decodeJSON(r, &req); err != nil {
				return 0, nil, err
			}
			if req.Signal == "" {
				return 0, nil, api.Errorf(api.CodeInvalidArgument, "no signal given: name one, e.g. TERM, INT, KILL or 9")
			}
			sr.Signal = req.Signal
		}
		return d.withSession(r, func(ctx context.Context, ag *host.Client, v *store.VM, id string) (any, error) {
			info, err := ag.Signal(ctx, id, sr)
			if err != nil {
				return nil, agentError(err, "signalling session "+id+" of VM "+v.Name)
			}
			s := fromGuest(v.ID, info)
			if err := d.mustStore().PutSession(ctx, &s); err != nil {
				return nil, err
			}
			return sessionView(s, v.Name, true, false), nil
		})
	}
}

func (d *Daemon) mustStore() SessionStore { return d.deps.Store.(SessionStore) }

// withSession runs op on a session of a running VM.
func (d *Daemon) withSession(r *http.Request, op func(ctx context.Context, ag *host.Client, v *store.VM, id string) (any, error)) (int, any, error) {
	if _, err := d.sessionStore(); err != nil {
		return 0, nil, err
	}
	name, err := pathName(r, "VM")
	if err != nil {
		return 0, nil, err
	}
	id, err := sessionName(r)
	if err != nil {
		return 0, nil, err
	}
	v, ag, err := d.vmAgent(r.Context(), name)
	if err != nil {
		return 0, nil, err
	}
	out, err := op(r.Context(), ag, v, id)
	if err != nil {
		return 0, nil, sessionNotFound(err, v.Name)
	}
	if out == nil {
		return http.StatusNoContent, nil, nil
	}
	return http.StatusOK, out, nil
}

// removeSession deletes a session in the guest and its record. A running
// one is refused unless ?force=1, which stops it first.
func (d *Daemon) removeSession(r *http.Request) (int, any, error) {
	f, err := force(r)
	if err != nil {
		return 0, nil, err
	}
	return d.withSession(r, func(ctx context.Context, ag *host.Client, v *store.VM, id string) (any, error) {
		info, err := ag.GetSession(ctx, id)
		if err != nil {
			return nil, agentError(err, "getting session "+id+" of VM "+v.Name)
		}
		if err := ag.Remove(ctx, info.ID, f); err != nil {
			err = agentError(err, "removing session "+id+" of VM "+v.Name)
			var ae *api.Error
			if errors.As(err, &ae) && ae.Code == api.CodeConflict {
				return nil, ae.WithHint("stop it first (`banger vm session stop " + v.Name + " " + id + "`), or remove it anyway with --force")
			}
			return nil, err
		}
		if err := d.mustStore().DeleteSession(ctx, v.ID, info.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		d.log.Info("session removed", "vm", v.Name, "session", info.ID)
		return nil, nil
	})
}

// attachSession is POST .../attach (an upgraded stream): scrollback, then
// live output; the client's frames go to the session. The 101 answer
// carries the session (api.SessionHeader).
func (d *Daemon) attachSession(w http.ResponseWriter, r *http.Request) {
	fail := func(err error) { writeError(w, errorFor(err)) }
	if err := wantsStream(r); err != nil {
		fail(err)
		return
	}
	// Frames follow the request on the connection: a body must not stay
	// in the way.
	if _, err := io.Copy(io.Discard, http.MaxBytesReader(nil, r.Body, maxBody)); err != nil {
		fail(api.Errorf(api.CodeInvalidArgument, "reading request body: %v", err))
		return
	}
	v, p, info, fc, err := d.openAttach(r)
	if err != nil {
		fail(err)
		return
	}
	hdr, _ := json.Marshal(sessionView(fromGuest(v.ID, info), v.Name, true, false))
	if err := fc.upgrade(w, http.Header{api.SessionHeader: {string(hdr)}}); err != nil {
		p.Close()
		d.log.Warn("attach: upgrade failed", "vm", v.Name, "err", err)
		return
	}
	if _, ok := fc.bridge(p, func() { p.Close() }); ok {
		d.recordEnd(r.Context(), v, info.ID)
	}
}

// openAttach checks the request and attaches in the guest; output waits
// in the frameConn for the upgrade.
func (d *Daemon) openAttach(r *http.Request) (*store.VM, *host.Process, proto.SessionInfo, *frameConn, error) {
	fail := func(err error) (*store.VM, *host.Process, proto.SessionInfo, *frameConn, error) {
		return nil, nil, proto.SessionInfo{}, nil, err
	}
	if _, err := d.sessionStore(); err != nil {
		return fail(err)
	}
	name, err := pathName(r, "VM")
	if err != nil {
		return fail(err)
	}
	id, err := sessionName(r)
	if err != nil {
		return fail(err)
	}
	v, ag, err := d.vmAgent(r.Context(), name)
	if err != nil {
		return fail(err)
	}
	fc := newFrameConn()
	p, info, err := ag.Attach(r.Context(), id, fc.writer(proto.FrameStdout), fc.writer(proto.FrameStderr))
	if err != nil {
		return fail(sessionNotFound(agentError(err, "attaching to session "+id+" of VM "+v.Name), v.Name))
	}
	return v, p, info, fc, nil
}

// recordEnd refreshes a session's record after an attachment saw it end.
func (d *Daemon) recordEnd(ctx context.Context, v *store.VM, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), agentTimeout)
	defer cancel()
	_, ag, err := d.vmAgent(ctx, v.Name)
	if err != nil {
		return
	}
	info, err := ag.GetSession(ctx, id)
	if err != nil {
		return
	}
	s := fromGuest(v.ID, info)
	if err := d.mustStore().PutSession(ctx, &s); err != nil {
		d.log.Warn("recording the end of a session failed", "vm", v.Name, "session", id, "err", err)
	}
}
