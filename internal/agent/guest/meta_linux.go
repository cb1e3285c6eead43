package guest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"banger/internal/agent/proto"
)

// meta is meta.json: the session's public info plus the identity of its
// supervisor. The agent writes it when it creates the session; from then
// on only the supervisor writes it (and the agent again only once the
// supervisor is gone without recording an exit: state lost).
type meta struct {
	proto.SessionInfo
	SupervisorPID   int    `json:"supervisor_pid,omitempty"`
	SupervisorStart uint64 `json:"supervisor_start,omitempty"` // /proc/PID/stat starttime
}

// spec is spec.json, written by the agent (mode 0600, it holds the env
// values) and deleted by the supervisor once read.
type spec struct {
	Proc           procSpec `json:"proc"`
	LaunchWindowMS int      `json:"launch_window_ms"`
}

const (
	metaName = "meta.json"
	specName = "spec.json"
	ctlName  = "ctl.sock"
)

func readMeta(dir string) (meta, error) {
	var m meta
	b, err := os.ReadFile(filepath.Join(dir, metaName))
	if err != nil {
		return m, fmt.Errorf("reading session metadata: %w", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("decoding %s: %w", filepath.Join(dir, metaName), err)
	}
	return m, nil
}

// writeJSON replaces dir/name atomically.
func writeJSON(dir, name string, v any, perm fs.FileMode) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", name, err)
	}
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, b, perm); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return nil
}

func writeMeta(dir string, m meta) error { return writeJSON(dir, metaName, m, 0o600) }

// procStart returns the start time (clock ticks since boot) of a live,
// non-zombie process, or ok=false.
func procStart(pid int) (uint64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	fields := strings.Fields(s[i+1:]) // fields[0] is the state (field 3)
	if len(fields) < 20 || fields[0] == "Z" || fields[0] == "X" {
		return 0, false
	}
	start, err := strconv.ParseUint(fields[19], 10, 64) // field 22
	return start, err == nil
}

// supervisorAlive reports whether the supervisor recorded in m still runs
// (same PID and same start time, so a recycled PID does not count).
func supervisorAlive(m meta) bool {
	if m.SupervisorPID == 0 {
		return false
	}
	start, ok := procStart(m.SupervisorPID)
	return ok && start == m.SupervisorStart
}

var errNoSession = errors.New("no such session")
