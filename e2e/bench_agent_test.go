package e2e

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// The agent path against ssh to the same guest, printed as ratios in one
// run (the guest and the host are the same for both sides of a ratio):
//
//	sudo go test ./e2e/ -run '^$' -bench 'Agent' -benchtime 1x -v
//
// BenchmarkAgentThroughput: bulk stdout (benchBulk bytes of /dev/zero) of
// `vm exec` and of `vm session attach` against `vm ssh`; goal >= 0.9x.
// BenchmarkAgentExecTrue: round trip of `vm exec VM -- true` against
// `vm ssh VM -- true`; goal <= 0.5x.

const (
	benchBulk   = 32 << 20
	benchRounds = 5
)

// timed runs the CLI once with stdout counted and returns its duration.
func (e *env) timed(b *testing.B, stdin string, args ...string) (time.Duration, int64) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := e.command(ctx, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var n countWriter
	var errb lockedBuffer
	cmd.Stdout, cmd.Stderr = &n, &errb
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("banger %s: %v (stderr %q)", strings.Join(args, " "), err, errb.String())
	}
	return time.Since(start), int64(n)
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

// attachBulk measures a session attach delivering benchBulk bytes: the
// session waits for a line, then writes them; the clock runs from the line
// to the last byte.
func (e *env) attachBulk(b *testing.B, vm string, i int) time.Duration {
	b.Helper()
	name := fmt.Sprintf("bulk%d", i)
	e.run("vm", "session", "start", vm, "--name", name, "--", "sh", "-c",
		fmt.Sprintf("read x; head -c %d /dev/zero; sleep 600", benchBulk))
	defer e.try("vm", "session", "rm", "--force", vm, name)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := e.command(ctx, "vm", "session", "attach", vm, name)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	time.Sleep(time.Second) // attached before the go line
	start := time.Now()
	io.WriteString(stdin, "go\n")
	if n, err := io.CopyN(io.Discard, out, benchBulk); err != nil {
		b.Fatalf("attach delivered %d of %d bytes: %v", n, benchBulk, err)
	}
	return time.Since(start)
}

func BenchmarkAgentThroughput(b *testing.B) {
	e := newEnv(b)
	e.agentVM("bench")
	bulk := fmt.Sprintf("head -c %d /dev/zero", benchBulk)
	var execR, attachR []float64
	for i := range benchRounds {
		st, sn := e.timed(b, "", "vm", "ssh", "bench", "--", bulk)
		et, en := e.timed(b, "", "vm", "exec", "bench", "--", "sh", "-c", bulk)
		at := e.attachBulk(b, "bench", i)
		if sn != benchBulk || en != benchBulk {
			b.Fatalf("ssh gave %d bytes, exec %d; want %d", sn, en, benchBulk)
		}
		mbps := func(d time.Duration) float64 { return float64(benchBulk) / d.Seconds() / (1 << 20) }
		execR, attachR = append(execR, mbps(et)/mbps(st)), append(attachR, mbps(at)/mbps(st))
		b.Logf("round %d: ssh %.1f MiB/s, exec %.1f MiB/s (%.2fx), attach %.1f MiB/s (%.2fx)",
			i+1, mbps(st), mbps(et), mbps(et)/mbps(st), mbps(at), mbps(at)/mbps(st))
	}
	b.Logf("median throughput vs ssh: exec %.2fx, attach %.2fx (goal >= 0.9x)", median(execR), median(attachR))
	b.ReportMetric(median(execR), "exec/ssh")
	b.ReportMetric(median(attachR), "attach/ssh")
}

func BenchmarkAgentExecTrue(b *testing.B) {
	e := newEnv(b)
	e.agentVM("bench")
	e.run("vm", "ssh", "bench", "--", "true") // warm: host keys, caches
	var ratios, execS, sshS []float64
	for i := range benchRounds * 2 {
		et, _ := e.timed(b, "", "vm", "exec", "bench", "--", "true")
		st, _ := e.timed(b, "", "vm", "ssh", "bench", "--", "true")
		ratios, execS, sshS = append(ratios, et.Seconds()/st.Seconds()), append(execS, et.Seconds()), append(sshS, st.Seconds())
		b.Logf("round %d: exec %.0f ms, ssh %.0f ms, ratio %.2f", i+1, et.Seconds()*1000, st.Seconds()*1000, et.Seconds()/st.Seconds())
	}
	b.Logf("median: exec true %.0f ms, ssh true %.0f ms, ratio %.2f (goal <= 0.5)", median(execS)*1000, median(sshS)*1000, median(ratios))
	b.ReportMetric(median(ratios), "exec/ssh")
	b.ReportMetric(median(execS)*1000, "exec-ms")
	b.ReportMetric(median(sshS)*1000, "ssh-ms")
}
