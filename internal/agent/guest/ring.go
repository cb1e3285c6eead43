package guest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"banger/internal/agent/proto"
)

// LogLimit bounds a session's scrollback on disk: output.log and its
// predecessor output.log.1 each hold at most LogLimit/2 bytes of frames, so
// a session keeps between LogLimit/2 and LogLimit of its latest output.
const LogLimit = 8 << 20

const (
	logName    = "output.log"
	logOldName = "output.log.1"
)

// ring appends output frames (proto frame encoding: stdout and stderr
// keep their identity) to the session log, rotating at half the limit.
// Bytes are also addressed by a logical offset that only grows (byte 0 is
// the first byte the log ever held), which lets a reader follow the log
// at its own pace: attachers read from the files, not from a queue, so a
// slow one is never dropped and never stalls the process; one that falls
// more than the scrollback behind skips to the oldest byte still kept.
// It is not safe for concurrent use; the supervisor holds its lock.
type ring struct {
	dir     string
	half    int64
	f       *os.File
	size    int64 // bytes in output.log
	curBase int64 // logical offset of output.log's first byte
	oldBase int64 // logical offset of output.log.1's first byte
	hasOld  bool
}

func openRing(dir string, limit int64) (*ring, error) {
	f, err := os.OpenFile(filepath.Join(dir, logName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening session log: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("opening session log: %w", err)
	}
	r := &ring{dir: dir, half: limit / 2, f: f, size: st.Size()}
	if old, err := os.Stat(filepath.Join(dir, logOldName)); err == nil {
		r.hasOld, r.curBase = true, old.Size()
	}
	return r, nil
}

// start is the logical offset of the oldest byte kept; end is one past
// the newest.
func (r *ring) start() int64 {
	if r.hasOld {
		return r.oldBase
	}
	return r.curBase
}

func (r *ring) end() int64 { return r.curBase + r.size }

// wouldRotate reports whether appending n bytes rotates the log first,
// discarding output.log.1.
func (r *ring) wouldRotate(n int) bool { return r.size > 0 && r.size+int64(n) > r.half }

// segment is a run of whole frames in one log file, from an open
// descriptor that stays valid across rotations.
type segment struct {
	f    *os.File
	off  int64 // in the file
	n    int64
	next int64 // logical offset after the run
}

// segmentFrom returns the whole frames from logical offset off to the end
// of the file holding them (appends are whole frames, so file ends are
// frame boundaries), as an open file the caller must close. n is 0 when
// there is nothing past off. An offset older than the scrollback starts
// at the oldest byte kept.
func (r *ring) segmentFrom(off int64) (segment, error) {
	if off < r.start() {
		off = r.start()
	}
	name, base, limit := logName, r.curBase, r.end()
	if off < r.curBase {
		name, base, limit = logOldName, r.oldBase, r.curBase
	}
	if off >= limit {
		return segment{next: off}, nil
	}
	f, err := os.Open(filepath.Join(r.dir, name))
	if err != nil {
		return segment{next: off}, fmt.Errorf("reading session log: %w", err)
	}
	return segment{f: f, off: off - base, n: limit - off, next: limit}, nil
}

// append writes one encoded frame with a single write call, so a crash
// leaves at most one partial frame at the end, which readers ignore.
func (r *ring) append(frame []byte) error {
	if r.wouldRotate(len(frame)) {
		if err := r.rotate(); err != nil {
			return err
		}
	}
	n, err := r.f.Write(frame)
	r.size += int64(n)
	if err != nil {
		return fmt.Errorf("writing session log: %w", err)
	}
	return nil
}

func (r *ring) rotate() error {
	cur, old := filepath.Join(r.dir, logName), filepath.Join(r.dir, logOldName)
	if err := os.Rename(cur, old); err != nil {
		return fmt.Errorf("rotating session log: %w", err)
	}
	f, err := os.OpenFile(cur, os.O_CREATE|os.O_WRONLY|os.O_TRUNC|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("rotating session log: %w", err)
	}
	r.f.Close()
	r.oldBase, r.hasOld = r.curBase, true
	r.curBase += r.size
	r.f, r.size = f, 0
	return nil
}

func (r *ring) close() error { return r.f.Close() }

// readLog returns the scrollback of the session in dir as encoded frames,
// oldest first, without a partial trailing frame.
func readLog(dir string) ([]byte, error) {
	var out []byte
	for _, name := range []string{logOldName, logName} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading session log: %w", err)
		}
		out = append(out, b[:completeFrames(b)]...)
	}
	return out, nil
}

// completeFrames returns the length of the prefix of b made of whole frames.
func completeFrames(b []byte) int {
	off := 0
	for len(b)-off >= proto.FrameHeaderLen {
		n := int(binary.BigEndian.Uint32(b[off+1:]))
		if len(b)-off-proto.FrameHeaderLen < n {
			break
		}
		off += proto.FrameHeaderLen + n
	}
	return off
}

// tailLines returns the last max lines written to stream t in the frames of log.
func tailLines(log []byte, t proto.FrameType, max int) []string {
	var text []byte
	r := bytes.NewReader(log)
	for {
		f, err := proto.ReadFrame(r)
		if err != nil {
			break
		}
		if f.Type == t {
			text = append(text, f.Payload...)
			if len(text) > 64<<10 {
				text = text[len(text)-32<<10:]
			}
		}
	}
	lines := strings.Split(strings.TrimRight(string(text), "\n"), "\n")
	if len(lines) == 1 && lines[0] == "" {
		return nil
	}
	if len(lines) > max {
		lines = lines[len(lines)-max:]
	}
	return lines
}
