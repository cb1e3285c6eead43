package host_test

import (
	"fmt"
	"io"
	"testing"

	"banger/internal/agent/host"
	"banger/internal/agent/proto"
)

func BenchmarkExecTrue(b *testing.B) {
	c, _ := serve(b, newServer(b, b.TempDir()))
	ctx := ctxT(b)
	for b.Loop() {
		st, err := c.Exec(ctx, proto.ExecRequest{Argv: []string{"true"}}, host.ExecIO{})
		if err != nil || st.Code != 0 {
			b.Fatalf("%+v %v", st, err)
		}
	}
}

func BenchmarkExecStdoutThroughput(b *testing.B) {
	c, _ := serve(b, newServer(b, b.TempDir()))
	ctx := ctxT(b)
	const size = 64 << 20
	b.SetBytes(size)
	for b.Loop() {
		var n countWriter
		st, err := c.Exec(ctx, proto.ExecRequest{Argv: []string{"head", "-c", fmt.Sprint(size), "/dev/zero"}}, host.ExecIO{Stdout: &n})
		if err != nil || st.Code != 0 || n != size {
			b.Fatalf("%+v %v, %d bytes", st, err, n)
		}
	}
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

var _ io.Writer = (*countWriter)(nil)

// BenchmarkAttachStdoutThroughput: the same bulk output as
// BenchmarkExecStdoutThroughput, through a session's supervisor and log.
func BenchmarkAttachStdoutThroughput(b *testing.B) {
	c, _ := serve(b, newServer(b, b.TempDir()))
	ctx := ctxT(b)
	const size = 64 << 20
	b.SetBytes(size)
	for range b.N {
		b.StopTimer() // starting waits out the launch window
		info, err := c.StartSession(ctx, proto.ExecRequest{Argv: []string{"sh", "-c", fmt.Sprintf("read x; head -c %d /dev/zero", size)}}, proto.StartRequest{})
		if err != nil {
			b.Fatal(err)
		}
		var n countWriter
		p, _, err := c.Attach(ctx, info.ID, &n, io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		p.Write([]byte("x\n"))
		st, err := p.Wait()
		if err != nil || st.Code != 0 || n != size {
			b.Fatalf("%+v %v, %d bytes", st, err, n)
		}
		p.Close()
	}
}
