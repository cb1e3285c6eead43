package host_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"testing"

	"banger/internal/agent/host"
	"banger/internal/agent/proto"
)

func TestPing(t *testing.T) {
	c, _ := newAgent(t)
	info, err := c.Ping(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		t.Fatal(err)
	}
	if info.BootID != strings.TrimSpace(string(boot)) || info.AgentVersion != "test-1" || info.ProtocolVersion != proto.Version {
		t.Fatalf("ping = %+v", info)
	}
}

func TestExecExitCodes(t *testing.T) {
	c, _ := newAgent(t)
	for _, tc := range []struct {
		script string
		code   int
		signal string
	}{{"exit 0", 0, ""}, {"exit 1", 1, ""}, {"kill -9 $$", 137, "KILL"}} {
		st, err := c.Exec(ctxT(t), proto.ExecRequest{Argv: []string{"sh", "-c", tc.script}}, host.ExecIO{})
		if err != nil {
			t.Fatalf("%s: %v", tc.script, err)
		}
		if st.Code != tc.code || st.Signal != tc.signal {
			t.Errorf("%s: status %+v, want code %d signal %q", tc.script, st, tc.code, tc.signal)
		}
	}
}

func TestExecCatBinary(t *testing.T) {
	c, _ := newAgent(t)
	data := make([]byte, 10<<20)
	rand.Read(data)
	h := sha256.New()
	var n int64
	st, err := c.Exec(ctxT(t), proto.ExecRequest{Argv: []string{"cat"}}, host.ExecIO{
		Stdin: bytes.NewReader(data), Stdout: writerFunc(func(b []byte) { h.Write(b); n += int64(len(b)) }),
	})
	if err != nil || st.Code != 0 {
		t.Fatalf("cat: %+v %v", st, err)
	}
	if want := sha256.Sum256(data); n != int64(len(data)) || !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatalf("cat returned %d bytes with a different sha256", n)
	}
}

type writerFunc func([]byte)

func (f writerFunc) Write(b []byte) (int, error) { f(b); return len(b), nil }

func TestExecStderrSeparate(t *testing.T) {
	c, _ := newAgent(t)
	var out, errb bytes.Buffer
	st, err := c.Exec(ctxT(t), proto.ExecRequest{Argv: []string{"sh", "-c", "echo out; echo err >&2; echo out2"}},
		host.ExecIO{Stdout: &out, Stderr: &errb})
	if err != nil || st.Code != 0 {
		t.Fatalf("%+v %v", st, err)
	}
	if out.String() != "out\nout2\n" || errb.String() != "err\n" {
		t.Fatalf("stdout %q stderr %q", out.String(), errb.String())
	}
}

func TestExecEnvAndCwd(t *testing.T) {
	c, _ := newAgent(t)
	dir := t.TempDir()
	var out bytes.Buffer
	st, err := c.Exec(ctxT(t), proto.ExecRequest{Argv: []string{"sh", "-c", "pwd; echo $FOO"}, Cwd: dir, Env: []string{"FOO=bar"}},
		host.ExecIO{Stdout: &out})
	if err != nil || st.Code != 0 {
		t.Fatalf("%+v %v", st, err)
	}
	if out.String() != dir+"\nbar\n" {
		t.Fatalf("stdout %q", out.String())
	}
}

func TestExecTTY(t *testing.T) {
	c, _ := newAgent(t)
	for _, tty := range []bool{true, false} {
		st, err := c.Exec(ctxT(t), proto.ExecRequest{Argv: []string{"test", "-t", "0"}, TTY: tty}, host.ExecIO{})
		if err != nil {
			t.Fatal(err)
		}
		if (st.Code == 0) != tty {
			t.Errorf("tty=%v: test -t 0 exited %d", tty, st.Code)
		}
	}
}

func TestExecResize(t *testing.T) {
	c, _ := newAgent(t)
	out := &syncBuffer{}
	p, err := c.Start(ctxT(t), proto.ExecRequest{Argv: []string{"sh", "-c", "stty size; read x; stty size"}, TTY: true,
		Size: proto.WinSize{Rows: 30, Cols: 100}}, out, nil)
	if err != nil {
		t.Fatal(err)
	}
	out.WaitFor(t, "30 100")
	if err := p.Resize(proto.WinSize{Rows: 40, Cols: 120}); err != nil {
		t.Fatal(err)
	}
	p.Write([]byte("go\n"))
	out.WaitFor(t, "40 120")
	if st, err := p.Wait(); err != nil || st.Code != 0 {
		t.Fatalf("%+v %v", st, err)
	}
}

func TestExecSignal(t *testing.T) {
	c, _ := newAgent(t)
	out := &syncBuffer{}
	sigs := make(chan string, 1)
	var st proto.ExitStatus
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		st, err = c.Exec(ctxT(t), proto.ExecRequest{Argv: []string{"sh", "-c", `trap "exit 42" TERM; echo ready; while :; do sleep 0.05; done`}},
			host.ExecIO{Stdout: out, Signal: sigs})
	}()
	out.WaitFor(t, "ready")
	sigs <- "TERM"
	<-done
	if err != nil || st.Code != 42 {
		t.Fatalf("after TERM: %+v %v", st, err)
	}
}

func TestExecPreflight(t *testing.T) {
	c, _ := newAgent(t)
	_, err := c.Exec(ctxT(t), proto.ExecRequest{Argv: []string{"no-such-command-banger"}}, host.ExecIO{})
	if !errors.Is(err, proto.ErrPreflight) {
		t.Fatalf("err = %v, want preflight", err)
	}
}

func TestConcurrentExec(t *testing.T) {
	c, _ := newAgent(t)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out bytes.Buffer
			st, err := c.Exec(ctxT(t), proto.ExecRequest{Argv: []string{"sh", "-c", "echo $N"}, Env: []string{"N=" + string(rune('a'+i))}},
				host.ExecIO{Stdout: &out})
			if err != nil || st.Code != 0 || out.String() != string(rune('a'+i))+"\n" {
				t.Errorf("exec %d: %+v %v %q", i, st, err, out.String())
			}
		}()
	}
	wg.Wait()
}

func TestFilePutGet(t *testing.T) {
	c, _ := newAgent(t)
	data := make([]byte, 3<<20+17)
	rand.Read(data)
	path := t.TempDir() + "/sub/dir/f.bin"
	if err := c.PutFile(ctxT(t), path, 0o600, true, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("stat: %v %v", fi, err)
	}
	var got bytes.Buffer
	fi, err := c.GetFile(ctxT(t), path, &got)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), data) || fi.Mode != 0o600 || fi.Size != int64(len(data)) {
		t.Fatalf("got %d bytes, info %+v", got.Len(), fi)
	}
	if _, err := c.GetFile(ctxT(t), path+".missing", io.Discard); !errors.Is(err, proto.ErrNotFound) {
		t.Fatalf("missing file: %v", err)
	}
}
