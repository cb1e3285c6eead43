// Package proto defines the wire protocol between banger's host and its
// guest agent: the stream preamble, the JSON request/response header lines
// that open every yamux stream, and the binary frames that streaming
// operations switch to. docs/agent-protocol.md is the prose version.
//
// The package has no OS-specific code and imports nothing from banger, so
// both the guest agent (a static binary) and the host may use it.
package proto

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Version is the protocol version this package speaks. A request whose "v"
// is higher than the agent's Version is refused with CodeUnsupported.
const Version = 1

// MaxHeaderLen bounds one JSON header line (request or response).
const MaxHeaderLen = 1 << 20

// Operations.
const (
	OpPing          = "ping"
	OpExec          = "exec"
	OpFilePut       = "file.put"
	OpFileGet       = "file.get"
	OpSessionStart  = "session.start"
	OpSessionList   = "session.list"
	OpSessionGet    = "session.get"
	OpSessionAttach = "session.attach"
	OpSessionSignal = "session.signal"
	OpSessionRemove = "session.rm"
	OpSessionLogs   = "session.logs"
)

// Ops lists every operation this version serves, as reported by ping.
var Ops = []string{OpPing, OpExec, OpFilePut, OpFileGet, OpSessionStart,
	OpSessionList, OpSessionGet, OpSessionLogs, OpSessionAttach, OpSessionSignal, OpSessionRemove}

// Request is the first line of every stream, written by the host.
// Only the fields of the named operation are read.
type Request struct {
	V  int    `json:"v"`
	Op string `json:"op"`

	Exec  *ExecRequest  `json:"exec,omitempty"`  // exec, session.start
	File  *FileRequest  `json:"file,omitempty"`  // file.put, file.get
	Start *StartRequest `json:"start,omitempty"` // session.start
	// ID names a session by id or by name (session.get/attach/signal/rm).
	ID     string         `json:"id,omitempty"`
	Signal *SignalRequest `json:"signal,omitempty"` // session.signal
	Force  bool           `json:"force,omitempty"`  // session.rm: stop it first
}

// ExecRequest describes a process to run.
type ExecRequest struct {
	Argv []string `json:"argv"`
	// Cwd defaults to "/" for sessions and the agent's own directory for exec.
	Cwd string `json:"cwd,omitempty"`
	// Env entries ("K=V") are added to the agent's environment; a later
	// entry wins over an earlier one and over the agent's.
	Env []string `json:"env,omitempty"`
	// TTY runs the process on a pseudo-terminal of Size: stdout and stderr
	// are then one stream (stdout frames) and resize frames apply.
	TTY  bool    `json:"tty,omitempty"`
	Size WinSize `json:"size,omitzero"`
}

// WinSize is a terminal size in character cells.
type WinSize struct {
	Rows uint16 `json:"rows"`
	Cols uint16 `json:"cols"`
}

// FileRequest names a file in the guest.
type FileRequest struct {
	Path string `json:"path"`
	// Mode is the permission bits for file.put (default 0644).
	Mode uint32 `json:"mode,omitempty"`
	// MkdirAll creates missing parent directories (0755) for file.put.
	MkdirAll bool `json:"mkdir_all,omitempty"`
}

// StartRequest holds the session-only fields of session.start.
type StartRequest struct {
	// Name is an optional unique handle; ids are always assigned.
	Name string `json:"name,omitempty"`
	// LaunchWindowMS is how long the start waits to see whether the
	// process dies at once (default 1500).
	LaunchWindowMS int `json:"launch_window_ms,omitempty"`
}

// SignalRequest asks for a signal (by name: "TERM", "KILL", "SIGINT"...)
// or, with Stop, for SIGTERM then SIGKILL after TimeoutMS (default 10000).
type SignalRequest struct {
	Signal    string `json:"signal,omitempty"`
	Stop      bool   `json:"stop,omitempty"`
	TimeoutMS int    `json:"timeout_ms,omitempty"`
}

// Response is the guest's header line answering a Request.
type Response struct {
	OK    bool   `json:"ok"`
	Error *Error `json:"error,omitempty"`

	Ping     *PingInfo     `json:"ping,omitempty"`
	File     *FileInfo     `json:"file,omitempty"`
	Session  *SessionInfo  `json:"session,omitempty"`
	Sessions []SessionInfo `json:"sessions,omitempty"`
}

// PingInfo identifies the agent and the boot it runs in.
type PingInfo struct {
	AgentVersion    string   `json:"agent_version"`
	ProtocolVersion int      `json:"protocol_version"`
	BootID          string   `json:"boot_id"`
	Ops             []string `json:"ops"`
}

// FileInfo answers file.get before the content frames.
type FileInfo struct {
	Mode uint32 `json:"mode"`
	Size int64  `json:"size"`
}

// Session states.
const (
	StateStarting = "starting"
	StateRunning  = "running"
	StateExited   = "exited"
	// StateLost: the session's supervisor vanished without recording an exit.
	StateLost = "lost"
)

// SessionInfo is a session's persisted metadata.
type SessionInfo struct {
	ID        string    `json:"id"`
	Name      string    `json:"name,omitempty"`
	Argv      []string  `json:"argv"`
	Cwd       string    `json:"cwd"`
	EnvKeys   []string  `json:"env_keys,omitempty"`
	TTY       bool      `json:"tty,omitempty"`
	State     string    `json:"state"`
	PID       int       `json:"pid,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	StartedAt time.Time `json:"started_at,omitzero"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
	// Exit is set once State is exited.
	Exit *ExitStatus `json:"exit,omitempty"`
	// StderrTail holds the last lines of stderr when the process ended
	// within the launch window (launch diagnostics).
	StderrTail []string `json:"stderr_tail,omitempty"`
}

// ExitStatus ends every streaming operation (the exit frame's payload).
// Code follows the shell: a process killed by signal n reports 128+n.
type ExitStatus struct {
	Code   int    `json:"code"`
	Signal string `json:"signal,omitempty"` // e.g. "KILL" when killed by a signal
	// Error is set when the operation failed after its header was sent
	// (e.g. file.put could not write); Code is then -1.
	Error string `json:"error,omitempty"`
}

// WriteJSONLine writes v as one JSON line.
func WriteJSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding header: %w", err)
	}
	b = append(b, '\n')
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("writing header: %w", err)
	}
	return nil
}

// ReadJSONLine reads one JSON line of at most MaxHeaderLen bytes into v.
// It never reads past the newline, so frames may follow in r.
func ReadJSONLine(r *bufio.Reader, v any) error {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > MaxHeaderLen {
			return fmt.Errorf("reading header: longer than %d bytes", MaxHeaderLen)
		}
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("reading header: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decoding header: %w", err)
	}
	return nil
}
