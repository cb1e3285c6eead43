package proto

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

func TestFramesRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	frames := []Frame{{FrameStdout, []byte("out")}, {FrameStderr, nil}, {FrameResize, ResizePayload(WinSize{Rows: 50, Cols: 132})},
		{FrameExit, ExitPayload(ExitStatus{Code: 137, Signal: "KILL"})}}
	for _, f := range frames {
		if err := WriteFrame(&buf, f.Type, f.Payload); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range frames {
		got, err := ReadFrame(&buf)
		if err != nil || got.Type != want.Type || !bytes.Equal(got.Payload, want.Payload) {
			t.Fatalf("read %v %q (%v), want %v %q", got.Type, got.Payload, err, want.Type, want.Payload)
		}
	}
	if _, err := ReadFrame(&buf); err != io.EOF {
		t.Fatalf("after the last frame: %v, want EOF", err)
	}
	ws, _ := ParseResize(frames[2].Payload)
	st, _ := ParseExit(frames[3].Payload)
	if ws != (WinSize{50, 132}) || st.Code != 137 || st.Signal != "KILL" {
		t.Fatalf("decoded %+v %+v", ws, st)
	}
}

func TestReadFrameRejects(t *testing.T) {
	cut := AppendFrame(nil, FrameStdout, []byte("hello"))[:7]
	if _, err := ReadFrame(bytes.NewReader(cut)); err != io.ErrUnexpectedEOF {
		t.Errorf("cut frame: %v", err)
	}
	huge := []byte{byte(FrameStdout), 0xff, 0xff, 0xff, 0xff}
	if _, err := ReadFrame(bytes.NewReader(huge)); err == nil {
		t.Error("oversized frame accepted")
	}
	if err := WriteFrame(io.Discard, FrameStdout, make([]byte, MaxFramePayload+1)); err == nil {
		t.Error("oversized write accepted")
	}
}

func TestJSONLineLeavesFramesInReader(t *testing.T) {
	var buf bytes.Buffer
	WriteJSONLine(&buf, Request{V: Version, Op: OpPing})
	WriteFrame(&buf, FrameStdin, []byte("x"))
	r := bufio.NewReader(&buf)
	var req Request
	if err := ReadJSONLine(r, &req); err != nil || req.Op != OpPing || req.V != 1 {
		t.Fatalf("%+v %v", req, err)
	}
	if f, err := ReadFrame(r); err != nil || string(f.Payload) != "x" {
		t.Fatalf("frame after header: %+v %v", f, err)
	}
	long := bufio.NewReader(strings.NewReader(strings.Repeat("a", MaxHeaderLen+10) + "\n"))
	if err := ReadJSONLine(long, &req); err == nil {
		t.Fatal("over-long header accepted")
	}
}

func TestPreambleLines(t *testing.T) {
	if n, ok := ParseHello("garbage" + HelloLine("abc")); !ok || n != "abc" {
		t.Errorf("hello after garbage: %q %v", n, ok)
	}
	if n, ok := ParseReady(ReadyLine("x1")); !ok || n != "x1" {
		t.Errorf("ready: %q %v", n, ok)
	}
	for _, bad := range []string{"BANGER-AGENT-HELLO v1 \n", "BANGER-AGENT-HELLO v2 abc\n", ReadyLine("abc")} {
		if _, ok := ParseHello(bad); ok {
			t.Errorf("ParseHello(%q) accepted", bad)
		}
	}
}

func TestErrorsMatchSentinels(t *testing.T) {
	for code, sentinel := range map[string]error{CodeNotFound: ErrNotFound, CodeConflict: ErrConflict,
		CodeInvalid: ErrInvalid, CodePreflight: ErrPreflight, CodeUnsupported: ErrUnsupported} {
		err := fmt.Errorf("op: %w", Errorf(code, "x"))
		if !errors.Is(err, sentinel) || errors.Is(err, errors.New("other")) {
			t.Errorf("code %s does not match its sentinel", code)
		}
	}
	if e := AsError(fmt.Errorf("wrapped: %w", Errorf(CodeConflict, "busy"))); e.Code != CodeConflict {
		t.Errorf("AsError lost the code: %+v", e)
	}
	if e := AsError(errors.New("plain")); e.Code != CodeInternal {
		t.Errorf("plain error code %s", e.Code)
	}
}
