package api

import (
	"fmt"
	"strings"
	"time"
)

// Streams (exec, session attach) start as an HTTP/1.1 request carrying
// "Connection: Upgrade" and "Upgrade: StreamProtocol". The daemon answers
// errors as usual JSON; on success it answers 101 Switching Protocols and
// both sides then exchange the guest agent's binary frames
// (banger/internal/agent/proto: type byte, uint32 big-endian length,
// payload): the client sends stdin, stdin-close, resize and signal frames,
// the daemon sends stdout, stderr and a final exit frame.
const StreamProtocol = "banger-stream/1"

// SessionHeader carries the attached session (JSON of Session) in the 101
// answer to an attach, so the client knows whether it has a terminal.
const SessionHeader = "Banger-Session"

// ExecRequest is the body of POST /v1/vms/{name}/exec (an upgrade).
type ExecRequest struct {
	Argv []string `json:"argv"`
	Cwd  string   `json:"cwd,omitempty"` // default: the agent's directory
	Env  []string `json:"env,omitempty"` // K=V, added to the agent's environment
	TTY  bool     `json:"tty,omitempty"`
	Rows uint16   `json:"rows,omitempty"` // terminal size with TTY
	Cols uint16   `json:"cols,omitempty"`
}

// Validate checks the command and the environment entries.
func (r ExecRequest) Validate() error {
	if len(r.Argv) == 0 || r.Argv[0] == "" {
		return &Error{Code: CodeInvalidArgument, Message: "no command given", Hint: "put the command after --, e.g. -- ls -l"}
	}
	return ValidateEnv(r.Env)
}

// ValidateEnv checks K=V entries: a non-empty key without '=' or NUL.
func ValidateEnv(env []string) error {
	for _, kv := range env {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" || strings.ContainsRune(kv, 0) {
			return &Error{Code: CodeInvalidArgument, Message: fmt.Sprintf("environment entry %q is not KEY=VALUE", kv),
				Hint: "write --env NAME=value (the value may be empty: NAME=)"}
		}
	}
	return nil
}

// StartSessionRequest is the body of POST /v1/vms/{name}/sessions.
type StartSessionRequest struct {
	Name string `json:"name,omitempty"` // optional, unique in the VM
	ExecRequest
}

// Validate checks the name, command and environment.
func (r StartSessionRequest) Validate() error {
	if r.Name != "" {
		if err := ValidateName("session", r.Name); err != nil {
			return err
		}
	}
	return r.ExecRequest.Validate()
}

// SignalRequest is the body of POST /v1/vms/{name}/sessions/{session}/signal.
type SignalRequest struct {
	Signal string `json:"signal"` // "TERM", "SIGINT", "9", ...
}

// Session states.
const (
	SessionStarting = "starting"
	SessionRunning  = "running"
	SessionExited   = "exited"
	SessionLost     = "lost" // its supervisor vanished (the VM stopped or crashed)
)

// Session is the client's view of one guest session.
type Session struct {
	ID      string   `json:"id"`
	Name    string   `json:"name,omitempty"`
	VM      string   `json:"vm"` // VM name
	Argv    []string `json:"argv"`
	Cwd     string   `json:"cwd"`
	EnvKeys []string `json:"env_keys,omitempty"` // values stay in the guest
	TTY     bool     `json:"tty"`
	State   string   `json:"state"`
	PID     int      `json:"pid,omitempty"`
	// ExitCode is set once the session ended; 128+n when killed by signal n.
	ExitCode *int   `json:"exit_code,omitempty"`
	Signal   string `json:"signal,omitempty"`
	// Diagnostics are the last stderr lines of a process that died within
	// its launch window (the terminal's output with a TTY).
	Diagnostics []string  `json:"diagnostics,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	StartedAt   time.Time `json:"started_at,omitzero"`
	EndedAt     time.Time `json:"ended_at,omitzero"`
	// Stale is true when the VM's agent could not be asked and this is
	// the daemon's last record.
	Stale bool `json:"stale,omitempty"`
}
