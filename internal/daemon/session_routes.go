package daemon

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"

	"banger/internal/agent/host"
	"banger/internal/agent/proto"
	"banger/internal/api"
	"banger/internal/store"
)

// FramesContentType is the body of GET .../logs: proto frames (stdout,
// stderr, then exit once the session has ended).
const FramesContentType = "application/vnd.banger.frames"

// sessionRoutes registers exec and the session API.
func (d *Daemon) sessionRoutes(mux *http.ServeMux, handle func(string, func(*http.Request) (int, any, error))) {
	v := "/" + api.Version
	mux.HandleFunc("POST "+v+"/vms/{name}/exec", d.vmExec)
	handle("GET "+v+"/sessions", d.listSessions)
	handle("GET "+v+"/vms/{name}/sessions", d.listSessions)
	handle("POST "+v+"/vms/{name}/sessions", d.startSession)
	handle("GET "+v+"/vms/{name}/sessions/{session}", d.getSession)
	handle("DELETE "+v+"/vms/{name}/sessions/{session}", d.removeSession)
	handle("POST "+v+"/vms/{name}/sessions/{session}/stop", d.signalSession(true))
	handle("POST "+v+"/vms/{name}/sessions/{session}/signal", d.signalSession(false))
	mux.HandleFunc("POST "+v+"/vms/{name}/sessions/{session}/attach", d.attachSession)
	mux.HandleFunc("GET "+v+"/vms/{name}/sessions/{session}/logs", d.sessionLogs)
}

// sessionLogs answers GET .../logs: the scrollback as frames, then an exit
// frame when the session has ended. With ?follow=1 it is a read-only
// attachment that goes on until the session ends or the client leaves.
func (d *Daemon) sessionLogs(w http.ResponseWriter, r *http.Request) {
	follow, _ := strconv.ParseBool(r.URL.Query().Get("follow"))
	if follow {
		d.followLogs(w, r)
		return
	}
	_, _, err := d.withSession(r, func(_ context.Context, ag *host.Client, v *store.VM, id string) (any, error) {
		var log bytes.Buffer
		if _, err := ag.Logs(r.Context(), id, &log); err != nil {
			return nil, agentError(err, "reading the log of session "+id+" of VM "+v.Name)
		}
		w.Header().Set("Content-Type", FramesContentType)
		w.WriteHeader(http.StatusOK)
		w.Write(log.Bytes())
		return nil, nil
	})
	if err != nil {
		writeError(w, errorFor(err))
	}
}

func ended(state string) bool { return state == proto.StateExited || state == proto.StateLost }

func exitOf(info proto.SessionInfo) proto.ExitStatus {
	if info.Exit != nil {
		return *info.Exit
	}
	return proto.ExitStatus{Code: -1, Error: "the session has no recorded exit (" + info.State + ")"}
}

// copyFrames copies the whole stdout/stderr frames of a session log.
func copyFrames(w io.Writer, r io.Reader) {
	for {
		f, err := proto.ReadFrame(r)
		if err != nil {
			return // end, or a frame torn by a crash
		}
		if f.Type == proto.FrameStdout || f.Type == proto.FrameStderr {
			w.Write(proto.AppendFrame(nil, f.Type, f.Payload))
		}
	}
}

// followLogs streams a read-only attachment as an HTTP body.
func (d *Daemon) followLogs(w http.ResponseWriter, r *http.Request) {
	fw := &flushFrames{w: w, rc: http.NewResponseController(w)}
	_, _, err := d.withSession(r, func(_ context.Context, ag *host.Client, v *store.VM, id string) (any, error) {
		p, _, err := ag.Attach(r.Context(), id, fw.writer(proto.FrameStdout), fw.writer(proto.FrameStderr))
		if err != nil {
			return nil, agentError(err, "attaching to session "+id+" of VM "+v.Name)
		}
		st, err := p.Wait()
		if err == nil {
			fw.frame(proto.FrameExit, proto.ExitPayload(st))
		}
		return nil, nil
	})
	if err != nil && !fw.started {
		writeError(w, errorFor(err))
	}
}

// flushFrames writes frames to a response, flushing each one.
type flushFrames struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	started bool
}

func (f *flushFrames) frame(t proto.FrameType, p []byte) error {
	if !f.started {
		f.w.Header().Set("Content-Type", FramesContentType)
		f.w.WriteHeader(http.StatusOK)
		f.started = true
	}
	if _, err := f.w.Write(proto.AppendFrame(nil, t, p)); err != nil {
		return err
	}
	return f.rc.Flush()
}

func (f *flushFrames) writer(t proto.FrameType) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		if err := f.frame(t, p); err != nil {
			return 0, err
		}
		return len(p), nil
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
