package guest

import (
	"bytes"
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
