package proto

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
)

// FrameType is the first byte of a frame.
type FrameType byte

// Frame types. Host-to-guest: Stdin, StdinClose, Resize, Signal.
// Guest-to-host: Stdout, Stderr, Exit (always last).
const (
	FrameStdin      FrameType = 1 // payload: bytes for the process's stdin (file.put: content)
	FrameStdinClose FrameType = 2 // empty payload: stdin reached EOF (file.put: content done)
	FrameStdout     FrameType = 3 // payload: bytes the process wrote to stdout (file.get: content)
	FrameStderr     FrameType = 4 // payload: bytes the process wrote to stderr
	FrameResize     FrameType = 5 // payload: rows uint16, cols uint16, big endian
	FrameSignal     FrameType = 6 // payload: signal name, e.g. "INT"
	FrameExit       FrameType = 7 // payload: ExitStatus as JSON; the stream then ends
)

func (t FrameType) String() string {
	names := [...]string{"invalid", "stdin", "stdin-close", "stdout", "stderr", "resize", "signal", "exit"}
	if int(t) < len(names) {
		return names[t]
	}
	return fmt.Sprintf("frame(%d)", byte(t))
}

// MaxFramePayload bounds one frame's payload; writers split larger data.
const MaxFramePayload = 1 << 20

// FrameHeaderLen is the size of a frame header: type byte + uint32 length.
const FrameHeaderLen = 5

// Frame is one unit of the streaming mux.
type Frame struct {
	Type    FrameType
	Payload []byte
}

// AppendFrame appends the encoding of a frame to b.
func AppendFrame(b []byte, t FrameType, payload []byte) []byte {
	b = append(b, byte(t))
	b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
	return append(b, payload...)
}

// WriteFrame writes one frame in a single Write call, so concurrent
// writers serialised by a mutex never interleave partial frames.
func WriteFrame(w io.Writer, t FrameType, payload []byte) error {
	if len(payload) > MaxFramePayload {
		return fmt.Errorf("writing %s frame: payload of %d bytes exceeds %d", t, len(payload), MaxFramePayload)
	}
	if _, err := w.Write(AppendFrame(make([]byte, 0, FrameHeaderLen+len(payload)), t, payload)); err != nil {
		return fmt.Errorf("writing %s frame: %w", t, err)
	}
	return nil
}

// ReadFrame reads one frame. A clean end of stream before a header is io.EOF;
// a frame cut short is io.ErrUnexpectedEOF.
func ReadFrame(r io.Reader) (Frame, error) {
	var h [FrameHeaderLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return Frame{}, err
	}
	n := binary.BigEndian.Uint32(h[1:])
	if n > MaxFramePayload {
		return Frame{}, fmt.Errorf("reading frame: payload of %d bytes exceeds %d", n, MaxFramePayload)
	}
	f := Frame{Type: FrameType(h[0]), Payload: make([]byte, n)}
	if _, err := io.ReadFull(r, f.Payload); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return Frame{}, err
	}
	return f, nil
}

// ResizePayload encodes a window size.
func ResizePayload(s WinSize) []byte {
	b := binary.BigEndian.AppendUint16(nil, s.Rows)
	return binary.BigEndian.AppendUint16(b, s.Cols)
}

// ParseResize decodes a resize payload.
func ParseResize(p []byte) (WinSize, error) {
	if len(p) != 4 {
		return WinSize{}, fmt.Errorf("parsing resize frame: %d bytes, want 4", len(p))
	}
	return WinSize{Rows: binary.BigEndian.Uint16(p), Cols: binary.BigEndian.Uint16(p[2:])}, nil
}

// ExitPayload encodes an exit status.
func ExitPayload(s ExitStatus) []byte {
	b, _ := json.Marshal(s) // a struct of ints and strings always marshals
	return b
}

// ParseExit decodes an exit frame payload.
func ParseExit(p []byte) (ExitStatus, error) {
	var s ExitStatus
	if err := json.Unmarshal(p, &s); err != nil {
		return s, fmt.Errorf("parsing exit frame: %w", err)
	}
	return s, nil
}
