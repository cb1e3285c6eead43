package guest

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"banger/internal/agent/proto"
)

// drainGrace is how long output is still read after the process exited:
// a background grandchild may hold the pipe open forever.
const drainGrace = time.Second

// procSpec is a fully resolved process to start.
type procSpec struct {
	Path string        `json:"path"` // resolved executable
	Argv []string      `json:"argv"`
	Cwd  string        `json:"cwd"`
	Env  []string      `json:"env"` // complete environment
	TTY  bool          `json:"tty,omitempty"`
	Size proto.WinSize `json:"size,omitzero"`
}

// proc is a started process in its own process group, with its output
// pipes (or pty master) owned by the caller.
type proc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser // pipe, or the pty master
	tty   *os.File       // pty master; nil in pipe mode
	outs  []output

	stdinOnce sync.Once
}

type output struct {
	typ proto.FrameType
	f   *os.File
}

// resolveSpec merges env over the agent's environment, applies the default
// cwd and resolves argv[0] with that environment's PATH. Its errors carry
// proto.CodePreflight and nothing has been started.
func resolveSpec(req proto.ExecRequest, defaultCwd string) (procSpec, error) {
	if len(req.Argv) == 0 || req.Argv[0] == "" {
		return procSpec{}, proto.Errorf(proto.CodeInvalid, "empty argv")
	}
	cwd := req.Cwd
	if cwd == "" {
		cwd = defaultCwd
	}
	if st, err := os.Stat(cwd); err != nil {
		return procSpec{}, proto.Errorf(proto.CodePreflight, "working directory %s: %v", cwd, err)
	} else if !st.IsDir() {
		return procSpec{}, proto.Errorf(proto.CodePreflight, "working directory %s: not a directory", cwd)
	}
	env := mergeEnv(os.Environ(), req.Env)
	path, err := lookPath(req.Argv[0], envValue(env, "PATH"), cwd)
	if err != nil {
		return procSpec{}, proto.Errorf(proto.CodePreflight, "resolving command: %v", err)
	}
	size := req.Size
	if size.Rows == 0 || size.Cols == 0 {
		size = proto.WinSize{Rows: 24, Cols: 80}
	}
	return procSpec{Path: path, Argv: req.Argv, Cwd: cwd, Env: env, TTY: req.TTY, Size: size}, nil
}

// mergeEnv returns base with extra applied; later entries win.
func mergeEnv(base, extra []string) []string {
	idx := map[string]int{}
	var out []string
	for _, kv := range append(append([]string{}, base...), extra...) {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := idx[k]; ok {
			out[i] = kv
			continue
		}
		idx[k] = len(out)
		out = append(out, kv)
	}
	return out
}

func envValue(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

// lookPath is exec.LookPath against a given PATH and working directory
// rather than the agent's own.
func lookPath(file, pathEnv, cwd string) (string, error) {
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(cwd, p)
	}
	if strings.Contains(file, "/") {
		p := abs(file)
		if err := executable(p); err != nil {
			return "", err
		}
		return p, nil
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			dir = "."
		}
		p := abs(filepath.Join(dir, file))
		if executable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not found in PATH %q", file, pathEnv)
}

func executable(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if st.IsDir() || st.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s: not an executable file", p)
	}
	return nil
}

// startProc starts spec in a new process group (pipe mode) or a new
// session on a fresh pty (tty mode).
func startProc(spec procSpec) (*proc, error) {
	cmd := &exec.Cmd{Path: spec.Path, Args: spec.Argv, Dir: spec.Cwd, Env: spec.Env}
	p := &proc{cmd: cmd}
	if spec.TTY {
		master, err := pty.StartWithAttrs(cmd, &pty.Winsize{Rows: spec.Size.Rows, Cols: spec.Size.Cols},
			&syscall.SysProcAttr{Setsid: true, Setctty: true})
		if err != nil {
			return nil, fmt.Errorf("starting %s on a pty: %w", spec.Argv[0], err)
		}
		p.tty, p.stdin = master, master
		p.outs = []output{{proto.FrameStdout, master}}
		return p, nil
	}
	var parent, child []*os.File
	closeAll := func() {
		for _, f := range append(parent, child...) {
			f.Close()
		}
	}
	for range 3 {
		r, w, err := os.Pipe()
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("creating pipe: %w", err)
		}
		// Bigger pipes mean fewer, larger reads of bulk output, each a
		// syscall and a frame. Best effort: 64 KiB pipes work too.
		// (SyscallConn, not Fd: Fd would put the pipe in blocking mode.)
		if rc, err := r.SyscallConn(); err == nil {
			rc.Control(func(fd uintptr) { unix.FcntlInt(fd, unix.F_SETPIPE_SZ, pipeSize) })
		}
		parent, child = append(parent, r, w), append(child, w, r)
	}
	// parent: [stdinR stdinW outR outW errR errW]; keep stdinW, outR, errR.
	cmd.Stdin, cmd.Stdout, cmd.Stderr = parent[0], parent[3], parent[5]
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		closeAll()
		return nil, fmt.Errorf("starting %s: %w", spec.Argv[0], err)
	}
	parent[0].Close()
	parent[3].Close()
	parent[5].Close()
	p.stdin = parent[1]
	p.outs = []output{{proto.FrameStdout, parent[2]}, {proto.FrameStderr, parent[4]}}
	return p, nil
}

// pipeSize is the capacity asked for the process's pipes and the size of
// the reads that drain them.
const pipeSize = 1 << 20

// pump reads every output until EOF (or until closed by wait) and hands
// each chunk to emit, which must not keep the slice. done closes when all
// outputs are drained.
func (p *proc) pump(emit func(proto.FrameType, []byte)) (done <-chan struct{}) {
	var wg sync.WaitGroup
	for _, o := range p.outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, pipeSize)
			for {
				n, err := o.f.Read(buf)
				if n > 0 {
					emit(o.typ, buf[:n])
				}
				if err != nil { // EOF, EIO on a pty whose slave closed, or closed by wait
					return
				}
			}
		}()
	}
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	return ch
}

// wait waits for the process, then for its output to drain (at most
// drainGrace), closes every descriptor and reports the exit status.
func (p *proc) wait(drained <-chan struct{}) proto.ExitStatus {
	err := p.cmd.Wait()
	select {
	case <-drained:
	case <-time.After(drainGrace):
	}
	for _, o := range p.outs {
		o.f.Close()
	}
	p.closeStdin()
	<-drained
	return exitStatus(p.cmd.ProcessState, err)
}

func exitStatus(st *os.ProcessState, err error) proto.ExitStatus {
	if st == nil {
		return proto.ExitStatus{Code: -1, Error: fmt.Sprint(err)}
	}
	ws, ok := st.Sys().(syscall.WaitStatus)
	if ok && ws.Signaled() {
		return proto.ExitStatus{Code: 128 + int(ws.Signal()), Signal: signalName(ws.Signal())}
	}
	return proto.ExitStatus{Code: st.ExitCode()}
}

func (p *proc) closeStdin() {
	p.stdinOnce.Do(func() {
		if p.tty != nil {
			p.tty.Write([]byte{4}) // ^D: the pty stays open for output
			return
		}
		p.stdin.Close()
	})
}

// input applies one host frame (stdin, stdin-close, resize, signal).
func (p *proc) input(f proto.Frame) error {
	switch f.Type {
	case proto.FrameStdin:
		if _, err := p.stdin.Write(f.Payload); err != nil {
			return fmt.Errorf("writing stdin: %w", err)
		}
	case proto.FrameStdinClose:
		p.closeStdin()
	case proto.FrameResize:
		ws, err := proto.ParseResize(f.Payload)
		if err != nil {
			return err
		}
		if p.tty != nil {
			if err := pty.Setsize(p.tty, &pty.Winsize{Rows: ws.Rows, Cols: ws.Cols}); err != nil {
				return fmt.Errorf("resizing pty: %w", err)
			}
		}
	case proto.FrameSignal:
		return p.signal(string(f.Payload))
	default:
		return fmt.Errorf("unexpected %s frame from host", f.Type)
	}
	return nil
}

// signal sends a signal by name to the process's whole group.
func (p *proc) signal(name string) error {
	sig, err := parseSignal(name)
	if err != nil {
		return err
	}
	return signalGroup(p.cmd.Process.Pid, sig)
}

func signalGroup(pid int, sig syscall.Signal) error {
	if err := unix.Kill(-pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("sending %s to process group %d: %w", signalName(sig), pid, err)
	}
	return nil
}

// parseSignal accepts "TERM", "SIGTERM", "sigterm" or "15".
func parseSignal(name string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(name); err == nil && n > 0 && n < 65 {
		return syscall.Signal(n), nil
	}
	up := strings.ToUpper(name)
	if !strings.HasPrefix(up, "SIG") {
		up = "SIG" + up
	}
	if sig := unix.SignalNum(up); sig != 0 {
		return sig, nil
	}
	return 0, proto.Errorf(proto.CodeInvalid, "unknown signal %q", name)
}

func signalName(sig syscall.Signal) string {
	if n := unix.SignalName(sig); n != "" {
		return strings.TrimPrefix(n, "SIG")
	}
	return strconv.Itoa(int(sig))
}
