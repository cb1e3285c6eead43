package guest

import (
	"context"
	"os"
	"syscall"

	"banger/internal/agent/proto"
)

// exec runs a process tied to this stream: header response, then output
// frames, then the exit frame. If the host goes away first the process
// group is killed.
func (s *Server) exec(ctx context.Context, st *stream, req proto.Request) error {
	if req.Exec == nil {
		return st.fail(proto.Errorf(proto.CodeInvalid, "exec: missing exec field"))
	}
	wd, _ := os.Getwd()
	spec, err := resolveSpec(*req.Exec, wd)
	if err != nil {
		return st.fail(err)
	}
	p, err := startProc(spec)
	if err != nil {
		return st.fail(proto.Errorf(proto.CodePreflight, "%v", err))
	}
	if err := st.respond(proto.Response{OK: true}); err != nil {
		signalGroup(p.cmd.Process.Pid, syscall.SIGKILL)
		p.wait(p.pump(func(proto.FrameType, []byte) {}))
		return err
	}
	drained := p.pump(func(t proto.FrameType, b []byte) { st.data(t, b) })
	exited := make(chan struct{})
	go func() {
		for {
			f, err := proto.ReadFrame(st.r)
			if err != nil {
				select {
				case <-exited:
				default: // the host is gone: nobody will read the output
					signalGroup(p.cmd.Process.Pid, syscall.SIGKILL)
				}
				return
			}
			if err := p.input(f); err != nil {
				s.log.Debug("exec input", "err", err)
			}
		}
	}()
	stop := context.AfterFunc(ctx, func() { signalGroup(p.cmd.Process.Pid, syscall.SIGKILL) })
	defer stop()
	status := p.wait(drained)
	close(exited)
	return st.frame(proto.FrameExit, proto.ExitPayload(status))
}
