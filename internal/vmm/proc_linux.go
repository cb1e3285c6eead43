package vmm

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// ProcStartTime returns the start time of process pid in clock ticks since
// boot (field 22 of /proc/PID/stat). Together with the PID it identifies a
// process across PID reuse; State.PIDStart records it.
func ProcStartTime(pid int) (uint64, error) {
	fields, err := procStatFields(pid)
	if err != nil {
		return 0, err
	}
	// fields[0] is field 3 (state), so field 22 is fields[19].
	if len(fields) < 20 {
		return 0, fmt.Errorf("parsing /proc/%d/stat: %d fields after comm", pid, len(fields))
	}
	start, err := strconv.ParseUint(string(fields[19]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parsing start time of pid %d: %w", pid, err)
	}
	return start, nil
}

// ProcessAlive reports whether pid is a live (not zombie) process that
// started at start (as returned by ProcStartTime). A reused PID, a process
// that exited and a zombie waiting to be reaped all count as not alive.
func ProcessAlive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	fields, err := procStatFields(pid)
	if err != nil || len(fields) < 20 {
		return false
	}
	if s := string(fields[0]); s == "Z" || s == "X" || s == "x" {
		return false
	}
	got, err := strconv.ParseUint(string(fields[19]), 10, 64)
	return err == nil && got == start
}

// procStatFields returns the fields of /proc/PID/stat after the command
// name, which is skipped as a whole because it may hold spaces and ')'.
func procStatFields(pid int) ([][]byte, error) {
	if pid <= 0 {
		return nil, fmt.Errorf("reading stat of pid %d: invalid pid", pid)
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, fmt.Errorf("reading stat of pid %d: %w", pid, err)
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, fmt.Errorf("parsing /proc/%d/stat: no command name", pid)
	}
	return bytes.Fields(b[i+1:]), nil
}
