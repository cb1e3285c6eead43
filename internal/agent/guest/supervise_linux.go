package guest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"golang.org/x/sys/unix"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"banger/internal/agent/proto"
)

// Per-session supervisor. `banger-agent supervise DIR` runs in its own
// session (setsid), so a restart of the agent (KillMode=process) leaves it
// and the process it owns running. It holds the process's stdin and output
// pipes (or pty master), appends output to the session log, writes
// meta.json, and serves attachers on DIR/ctl.sock. After the process has
// exited and its exit is recorded, it removes ctl.sock and exits.

// ctlRequest is the first line on ctl.sock.
type ctlRequest struct {
	Op        string `json:"op"` // "attach", "signal" or "stop"
	Signal    string `json:"signal,omitempty"`
	TimeoutMS int    `json:"timeout_ms,omitempty"`
}

type ctlResponse struct {
	Error string `json:"error,omitempty"`
}

// readyMsg is the supervisor's one line on stdout to the agent that
// started it: the session once running (or already exited), or an error.
type readyMsg struct {
	Session *proto.SessionInfo `json:"session,omitempty"`
	Error   string             `json:"error,omitempty"`
}

const stderrTailLines = 20

type supervisor struct {
	dir string
	p   *proc

	mu   sync.Mutex // guards everything below, and log writes
	grew *sync.Cond // on mu: broadcast when the log grows, a follower reads, or the exit is recorded
	// followers are the attachers' read positions in the log.
	followers map[*follower]struct{}
	meta      meta
	log       *ring
	exit      *proto.ExitStatus
	done      chan struct{} // closed once exit is recorded
	handle    sync.WaitGroup
}

// Supervise runs the session prepared in dir (meta.json and spec.json
// written by the agent). It reports to stdout once and returns when the
// process has exited and its exit is recorded.
func Supervise(dir string) error {
	ready := json.NewEncoder(os.Stdout)
	report := func(msg readyMsg) {
		ready.Encode(msg)
		os.Stdout.Close()
	}
	sp, m, err := loadSpec(dir)
	if err != nil {
		report(readyMsg{Error: err.Error()})
		return err
	}
	s := &supervisor{dir: dir, meta: m, done: make(chan struct{})}
	s.grew = sync.NewCond(&s.mu)
	s.followers = map[*follower]struct{}{}
	s.meta.SupervisorPID = os.Getpid()
	s.meta.SupervisorStart, _ = procStart(os.Getpid())
	if s.log, err = openRing(dir, LogLimit); err != nil {
		return s.failStart(report, err)
	}
	defer s.log.close()
	sock := filepath.Join(dir, ctlName)
	os.Remove(sock)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return s.failStart(report, fmt.Errorf("listening on %s: %w", sock, err))
	}
	defer os.Remove(sock)
	if s.p, err = startProc(sp.Proc); err != nil {
		ln.Close()
		return s.failStart(report, err)
	}
	s.mu.Lock()
	s.meta.State, s.meta.PID, s.meta.StartedAt = proto.StateRunning, s.p.cmd.Process.Pid, time.Now().UTC()
	err = writeMeta(dir, s.meta)
	s.mu.Unlock()
	if err != nil {
		fmt.Fprintln(os.Stderr, err) // keep supervising: the process runs
	}
	drained := s.p.pump(s.output)
	go s.serve(ln)
	exited := make(chan proto.ExitStatus, 1)
	go func() { exited <- s.p.wait(drained) }()

	window := time.Duration(sp.LaunchWindowMS) * time.Millisecond
	select {
	case st := <-exited:
		info := s.finish(st)
		report(readyMsg{Session: &info})
	case <-time.After(window):
		s.mu.Lock()
		info := s.meta.SessionInfo
		s.mu.Unlock()
		report(readyMsg{Session: &info})
		s.finish(<-exited)
	}
	ln.Close()
	// Attachers follow the log at their own pace: give a slow one time to
	// read the rest and the exit status before the supervisor goes (later
	// attaches of the ended session are served from the log by the agent).
	waitTimeout(&s.handle, attachDrainTimeout)
	return nil
}

// attachDrainTimeout bounds how long an ended session's supervisor waits
// for its attachers to read the end of the output.
const attachDrainTimeout = 2 * time.Minute

func loadSpec(dir string) (spec, meta, error) {
	var sp spec
	b, err := os.ReadFile(filepath.Join(dir, specName))
	if err != nil {
		return sp, meta{}, fmt.Errorf("reading session spec: %w", err)
	}
	os.Remove(filepath.Join(dir, specName)) // it holds env values: keep them no longer than needed
	if err := json.Unmarshal(b, &sp); err != nil {
		return sp, meta{}, fmt.Errorf("decoding session spec: %w", err)
	}
	m, err := readMeta(dir)
	return sp, m, err
}

// failStart records a process that could not be started.
func (s *supervisor) failStart(report func(readyMsg), err error) error {
	now := time.Now().UTC()
	s.meta.State, s.meta.EndedAt = proto.StateExited, now
	s.meta.Exit = &proto.ExitStatus{Code: -1, Error: err.Error()}
	if werr := writeMeta(s.dir, s.meta); werr != nil {
		err = errors.Join(err, werr)
	}
	info := s.meta.SessionInfo
	report(readyMsg{Session: &info})
	return err
}

// follower is one attacher's position in the log.
type follower struct {
	off   int64
	lossy bool // it was left behind once; nobody waits for it again until it catches up
}

// followerWait bounds how long the process's output waits for an attacher
// that would otherwise lose unread output to a log rotation.
const followerWait = 10 * time.Second

// output records a chunk in the log and wakes the attachers, which follow
// the log at their own pace (see ring). Before a rotation would discard
// output an attacher has not read yet, it waits (up to followerWait) for
// that attacher: a reader that keeps reading (bulk output over a slow
// channel) gets backpressure instead of gaps, while one that stalls (a
// suspended terminal) stalls the process once, for followerWait, and then
// skips ahead.
func (s *supervisor) output(t proto.FrameType, b []byte) {
	frame := proto.AppendFrame(nil, t, b)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.log.wouldRotate(len(frame)) {
		s.waitFollowers(s.log.curBase)
	}
	if err := s.log.append(frame); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	s.grew.Broadcast()
}

// waitFollowers waits until every attacher that is not lossy has read up
// to base, or followerWait passes; those still behind become lossy.
// Called with s.mu held.
func (s *supervisor) waitFollowers(base int64) {
	behind := func() bool {
		for f := range s.followers {
			if !f.lossy && f.off < base {
				return true
			}
		}
		return false
	}
	if behind() {
		expired := false
		timer := time.AfterFunc(followerWait, func() {
			s.mu.Lock()
			expired = true
			s.grew.Broadcast()
			s.mu.Unlock()
		})
		for behind() && !expired {
			s.grew.Wait()
		}
		timer.Stop()
	}
	for f := range s.followers {
		if f.off < base {
			f.lossy = true
		}
	}
}

// finish records the exit, sends it to every attacher and returns the info.
func (s *supervisor) finish(st proto.ExitStatus) proto.SessionInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.meta.State, s.meta.EndedAt, s.meta.Exit = proto.StateExited, time.Now().UTC(), &st
	tailOf := proto.FrameStderr
	if s.meta.TTY {
		tailOf = proto.FrameStdout
	}
	if log, err := readLog(s.dir); err == nil {
		s.meta.StderrTail = tailLines(log, tailOf, stderrTailLines)
	}
	if err := writeMeta(s.dir, s.meta); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	s.exit = &st
	close(s.done)
	s.grew.Broadcast() // attachers send the exit frame once they have read the log
	return s.meta.SessionInfo
}

func (s *supervisor) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		s.handle.Add(1)
		go func() {
			defer s.handle.Done()
			defer c.Close()
			s.ctl(c)
		}()
	}
}

func (s *supervisor) ctl(c net.Conn) {
	r := bufio.NewReader(c)
	var req ctlRequest
	if err := proto.ReadJSONLine(r, &req); err != nil {
		return
	}
	answer := func(err error) {
		resp := ctlResponse{}
		if err != nil {
			resp.Error = err.Error()
		}
		proto.WriteJSONLine(c, resp)
	}
	switch req.Op {
	case "attach":
		s.attach(c, r)
	case "signal":
		answer(s.p.signal(req.Signal))
	case "stop":
		answer(s.stop(time.Duration(req.TimeoutMS) * time.Millisecond))
	default:
		answer(fmt.Errorf("unknown control op %q", req.Op))
	}
}

// stop sends SIGTERM to the process group, then SIGKILL after timeout,
// and returns once the exit is recorded.
func (s *supervisor) stop(timeout time.Duration) error {
	if err := signalGroup(s.p.cmd.Process.Pid, syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-s.done:
		return nil
	case <-time.After(timeout):
	}
	if err := signalGroup(s.p.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		return err
	}
	<-s.done
	return nil
}

// attach replays the log from its oldest byte, then follows it, while
// applying c's input frames to the process; after the last output of an
// ended process it sends the exit frame. Every attacher reads the log
// files at its own pace, so none is dropped and none slows the process.
func (s *supervisor) attach(c net.Conn, r *bufio.Reader) {
	gone := make(chan struct{}) // closed when the attacher's input ends
	go func() {
		for {
			f, err := proto.ReadFrame(r)
			if err != nil {
				break
			}
			s.p.input(f) // input to an exited process fails harmlessly
		}
		s.mu.Lock()
		close(gone)
		s.grew.Broadcast()
		s.mu.Unlock()
	}()
	closed := func() bool {
		select {
		case <-gone:
			return true
		default:
			return false
		}
	}
	s.mu.Lock()
	fl := &follower{off: s.log.start()}
	s.followers[fl] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.followers, fl)
		s.grew.Broadcast() // output may be waiting for this follower
		s.mu.Unlock()
	}()
	off := fl.off
	for {
		s.mu.Lock()
		for off >= s.log.end() && s.exit == nil && !closed() {
			s.grew.Wait()
		}
		seg, err := s.log.segmentFrom(off)
		exit := s.exit
		s.mu.Unlock()
		if err != nil || closed() {
			if seg.f != nil {
				seg.f.Close()
			}
			return
		}
		if seg.n > 0 {
			err := sendFile(c, seg)
			seg.f.Close()
			if err != nil {
				return
			}
			off = seg.next
			s.mu.Lock()
			fl.off = off
			if off >= s.log.end() {
				fl.lossy = false // caught up: worth waiting for again
			}
			s.grew.Broadcast()
			s.mu.Unlock()
			continue
		}
		if exit != nil {
			proto.WriteFrame(c, proto.FrameExit, proto.ExitPayload(*exit))
			return
		}
	}
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) {
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	select {
	case <-ch:
	case <-time.After(d):
	}
}

// sendFile copies seg to c inside the kernel (sendfile(2)): bulk output
// reaches the agent without passing through this process's memory, which
// matters under software emulation. It falls back to a plain copy where
// sendfile is refused.
func sendFile(c net.Conn, seg segment) error {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return copySegment(c, seg)
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return copySegment(c, seg)
	}
	in := int(seg.f.Fd())
	off, left := seg.off, seg.n
	var serr error
	werr := rc.Write(func(fd uintptr) bool {
		for left > 0 {
			n, err := unix.Sendfile(int(fd), in, &off, int(min(left, 1<<30)))
			if n > 0 {
				left -= int64(n)
			}
			switch {
			case err == unix.EAGAIN:
				return false // wait until the socket is writable
			case err == unix.EINTR:
				continue
			case err != nil:
				serr = err
				return true
			case n == 0:
				serr = io.ErrUnexpectedEOF
				return true
			}
		}
		return true
	})
	if errors.Is(serr, unix.EINVAL) || errors.Is(serr, unix.ENOSYS) {
		seg.off, seg.n = off, left
		return copySegment(c, seg)
	}
	return errors.Join(werr, serr)
}

func copySegment(c net.Conn, seg segment) error {
	_, err := io.Copy(c, io.NewSectionReader(seg.f, seg.off, seg.n))
	return err
}
