package image

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// tailLines is how much of a failed program's output its error carries.
const tailLines = 25

// lineWriter splits what a program prints into lines, hands each to fn and
// keeps the last tailLines of them.
type lineWriter struct {
	fn   func(string)
	part []byte
	tail []string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.part = append(w.part, p...)
	for {
		i := bytes.IndexAny(w.part, "\r\n")
		if i < 0 {
			return len(p), nil
		}
		w.line(string(w.part[:i]))
		w.part = w.part[i+1:]
	}
}

func (w *lineWriter) line(l string) {
	if l = strings.TrimSpace(l); l == "" {
		return
	}
	if w.fn != nil {
		w.fn(l)
	}
	w.tail = append(w.tail, l)
	if len(w.tail) > tailLines {
		w.tail = w.tail[len(w.tail)-tailLines:]
	}
}

func (w *lineWriter) flush() { w.line(string(w.part)); w.part = nil }

// runCmd runs a program with its stdout and stderr merged, line by line
// into lines (may be nil; called sequentially, never concurrently). When
// ctx ends, the program's whole process group gets SIGTERM (debootstrap
// unmounts what it mounted on TERM), then SIGKILL 10 s later. A failure's
// error ends with the last lines the program printed.
func runCmd(ctx context.Context, lines func(string), name string, args ...string) (tail string, err error) {
	cmd := exec.CommandContext(ctx, name, args...)
	w := &lineWriter{fn: lines}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		pgid := -cmd.Process.Pid
		err := syscall.Kill(pgid, syscall.SIGTERM)
		time.AfterFunc(10*time.Second, func() { _ = syscall.Kill(pgid, syscall.SIGKILL) })
		return err
	}
	cmd.WaitDelay = 20 * time.Second
	err = cmd.Run()
	w.flush()
	tail = strings.Join(w.tail, "\n")
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return tail, fmt.Errorf("running %s: %w; last output:\n%s", name, err, tail)
	}
	return tail, nil
}
