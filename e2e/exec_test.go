package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// agentVM boots one VM from the cached base image: the one VM a test
// function shares between its subtests (each boot costs ~20 s under TCG).
func (e *env) agentVM(name string) {
	e.t.Helper()
	e.run("kernel", "import", "--name", "k")
	e.run("image", "bootstrap", "--name", "base", "--kernel", "k", "-q")
	e.run("vm", "create", name, "--image", "base", "--cpus", "1", "--memory", "512")
}

// command is the CLI as a process inside the namespace, for streams.
func (e *env) command(ctx context.Context, args ...string) *exec.Cmd {
	return e.ns.Exec(ctx, bangerBin, append([]string{"--config", e.config}, args...)...)
}

// result is one finished CLI run.
type result struct {
	stdout, stderr []byte
	code           int
}

// execIn runs the CLI with stdin and returns its outputs and exit code.
func (e *env) execIn(t testing.TB, stdin []byte, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := e.command(ctx, args...)
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(stdin), &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("banger %s: %v", strings.Join(args, " "), err)
	}
	return result{out.Bytes(), errb.Bytes(), code}
}

// lockedBuffer collects a process's output for polling.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestExec(t *testing.T) {
	e := newEnv(t)
	e.agentVM("ex")

	t.Run("exit codes", func(t *testing.T) {
		for script, want := range map[string]int{"true": 0, "exit 1": 1, "kill -KILL $$": 137} {
			if r := e.execIn(t, nil, "vm", "exec", "ex", "--", "sh", "-c", script); r.code != want {
				t.Errorf("exec %q exited %d, want %d (stderr %q)", script, r.code, want, r.stderr)
			}
		}
	})
	t.Run("stderr apart", func(t *testing.T) {
		r := e.execIn(t, nil, "vm", "exec", "ex", "--env", "X=1", "--cwd", "/tmp", "--", "sh", "-c", "echo out$X; pwd >&2")
		if r.code != 0 || string(r.stdout) != "out1\n" || string(r.stderr) != "/tmp\n" {
			t.Errorf("stdout %q stderr %q exit %d", r.stdout, r.stderr, r.code)
		}
	})
	t.Run("10 MiB through cat", func(t *testing.T) {
		in := make([]byte, 10<<20)
		rand.Read(in)
		r := e.execIn(t, in, "vm", "exec", "ex", "--", "cat")
		if r.code != 0 || sha256.Sum256(r.stdout) != sha256.Sum256(in) {
			t.Errorf("cat gave %d bytes (exit %d, stderr %q); want the %d sent, same checksum", len(r.stdout), r.code, r.stderr, len(in))
		}
	})
	t.Run("tty", func(t *testing.T) {
		r := e.execIn(t, nil, "vm", "exec", "-t", "ex", "--", "sh", "-c", "test -t 0 && test -t 1 && echo is-a-tty")
		if r.code != 0 || !strings.Contains(string(r.stdout), "is-a-tty") {
			t.Errorf("exec -t: stdout %q exit %d", r.stdout, r.code)
		}
	})
	t.Run("ctrl-c is forwarded", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := e.command(ctx, "vm", "exec", "ex", "--", "sh", "-c", `trap "echo got-int; exit 5" INT; echo ready; sleep 100 >/dev/null 2>&1 & wait`)
		out := &lockedBuffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(time.Minute); !strings.Contains(out.String(), "ready"); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no ready line: %q", out.String())
			}
		}
		cmd.Process.Signal(os.Interrupt)
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 5 || !strings.Contains(out.String(), "got-int") {
			t.Errorf("after SIGINT: %v, output %q; want the trap's exit 5", err, out.String())
		}
	})
	t.Run("bad input", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			code int
			want string
		}{
			{[]string{"vm", "exec", "nope", "--", "true"}, 1, "nope"},
			{[]string{"vm", "exec", "ex", "--env", "NOEQ", "--", "true"}, 2, "NOEQ"},
			{[]string{"vm", "exec", "ex", "true"}, 2, "--"},
			{[]string{"vm", "exec", "ex", "--"}, 2, "command"},
			{[]string{"vm", "exec", "ex", "--", "no-such-command-x"}, 1, "no-such-command-x"},
			{[]string{"vm", "exec", "ex", "--cwd", "/no/such", "--", "true"}, 1, "/no/such"},
		} {
			r := e.execIn(t, nil, tc.args...)
			if r.code != tc.code || !strings.Contains(string(r.stderr), tc.want) {
				t.Errorf("banger %s: exit %d stderr %q; want exit %d mentioning %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.code, tc.want)
			}
		}
	})
	t.Run("stopped VM", func(t *testing.T) {
		e.run("vm", "kill", "ex")
		r := e.execIn(t, nil, "vm", "exec", "ex", "--", "true")
		if r.code != 1 || !strings.Contains(string(r.stderr), "banger vm start ex") {
			t.Errorf("exec on a stopped VM: exit %d stderr %q", r.code, r.stderr)
		}
	})
}
