package guest

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"banger/internal/agent/proto"
)

func TestRingStaysBounded(t *testing.T) {
	dir := t.TempDir()
	const limit = 64 << 10
	r, err := openRing(dir, limit)
	if err != nil {
		t.Fatal(err)
	}
	chunk := append(bytes.Repeat([]byte("x"), 999), '\n')
	for i := range 500 {
		typ := proto.FrameStdout
		if i%2 == 1 {
			typ = proto.FrameStderr
		}
		if err := r.append(proto.AppendFrame(nil, typ, chunk)); err != nil {
			t.Fatal(err)
		}
	}
	r.append(proto.AppendFrame(nil, proto.FrameStderr, []byte("last line\n")))
	r.close()
	log, err := readLog(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) > limit || len(log) < limit/2 {
		t.Fatalf("scrollback is %d bytes, want between %d and %d", len(log), limit/2, limit)
	}
	// A crash mid-write leaves a partial frame: readers drop it.
	f, _ := os.OpenFile(filepath.Join(dir, logName), os.O_APPEND|os.O_WRONLY, 0)
	f.Write(proto.AppendFrame(nil, proto.FrameStdout, []byte("torn"))[:6])
	f.Close()
	log2, _ := readLog(dir)
	if !bytes.Equal(log, log2) {
		t.Fatal("a torn trailing frame changed the replay")
	}
	if tail := tailLines(log, proto.FrameStderr, 1); len(tail) != 1 || tail[0] != "last line" {
		t.Fatalf("tail has %d lines: %.80q", len(tail), tail)
	}
}

// segmentFrom follows the log by logical offset across rotations; an
// offset older than the scrollback resumes at the oldest frame kept.
func TestRingSegmentsAcrossRotation(t *testing.T) {
	dir := t.TempDir()
	r, err := openRing(dir, 64) // rotate every 32 bytes: 3 frames of 10
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	frame := func(i int) []byte { return proto.AppendFrame(nil, proto.FrameStdout, []byte{byte('a' + i)}) }
	var all []byte
	for i := 0; i < 10; i++ {
		if err := r.append(frame(i)); err != nil {
			t.Fatal(err)
		}
		all = append(all, frame(i)...)
	}
	if r.end() != int64(len(all)) {
		t.Fatalf("end %d, want %d", r.end(), len(all))
	}
	read := func(seg segment) []byte {
		defer seg.f.Close()
		b, err := io.ReadAll(io.NewSectionReader(seg.f, seg.off, seg.n))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// From the start of what is kept, segment by segment, the frames are
	// exactly the tail of everything written.
	var got []byte
	for off := r.start(); off < r.end(); {
		seg, err := r.segmentFrom(off)
		if err != nil || seg.n == 0 || seg.next <= off {
			t.Fatalf("segmentFrom(%d) = %+v, %v", off, seg, err)
		}
		got, off = append(got, read(seg)...), seg.next
	}
	if want := all[r.start():]; string(got) != string(want) {
		t.Fatalf("followed %q, want %q", got, want)
	}
	if seg, err := r.segmentFrom(r.end()); err != nil || seg.n != 0 || seg.f != nil {
		t.Fatalf("segment past the end: %+v %v", seg, err)
	}
	// Offset 0 fell out of the scrollback: resume at the oldest frame.
	seg, err := r.segmentFrom(0)
	if err != nil {
		t.Fatal(err)
	}
	if b := read(seg); string(b) != string(all[r.start():r.start()+int64(len(b))]) || len(b) == 0 {
		t.Fatalf("segmentFrom(0) = %q", b)
	}
}
