package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"banger/internal/api"
	"banger/internal/client"
)

// What exec and attach share: the command after --, --env checks, and
// running a stream against the local terminal.

// commandArgs splits `VM [flags] -- CMD ARGS` (cobra keeps what follows
// -- as plain arguments). use is the command's synopsis for messages.
func commandArgs(cmd *cobra.Command, args []string, use string) (vm string, argv []string, err error) {
	dash := cmd.ArgsLenAtDash()
	switch {
	case len(args) == 0:
		return "", nil, usageErr("missing the VM name: %s", use)
	case dash < 0:
		return "", nil, usageErr("missing -- before the command: %s", use)
	case dash != 1:
		return "", nil, usageErr("only the VM name goes before --, got %q: %s", strings.Join(args[:dash], " "), use)
	case len(args) == 1:
		return "", nil, usageErr("missing the command after --: %s", use)
	}
	if err := api.ValidateName("VM", args[0]); err != nil {
		return "", nil, err
	}
	return args[0], args[1:], nil
}

// commandFlags are --cwd, --env and --tty of exec and session start, and
// the Args check of their `VM -- COMMAND` form.
type commandFlags struct {
	use string
	cwd string
	env []string
	tty bool
}

func addCommandFlags(cmd *cobra.Command, use, cwdHelp string) *commandFlags {
	f := &commandFlags{use: use}
	cmd.Args = func(cmd *cobra.Command, args []string) error {
		_, _, err := commandArgs(cmd, args, use)
		return err
	}
	cmd.Flags().StringVar(&f.cwd, "cwd", "", cwdHelp)
	cmd.Flags().StringArrayVarP(&f.env, "env", "e", nil, "set an environment variable K=V (repeatable)")
	cmd.Flags().BoolVarP(&f.tty, "tty", "t", false, "run the command on a terminal")
	return f
}

// request builds the exec request from the flags and `VM -- COMMAND`.
func (f *commandFlags) request(cmd *cobra.Command, args []string) (string, api.ExecRequest, error) {
	vm, argv, err := commandArgs(cmd, args, f.use)
	if err != nil {
		return "", api.ExecRequest{}, err
	}
	if err := checkEnv(f.env); err != nil {
		return "", api.ExecRequest{}, err
	}
	return vm, api.ExecRequest{Argv: argv, Cwd: f.cwd, Env: f.env, TTY: f.tty}, nil
}

func checkEnv(env []string) error {
	var ae *api.Error
	if err := api.ValidateEnv(env); errors.As(err, &ae) {
		return usageErr("%s (%s)", ae.Message, ae.Hint)
	}
	return nil
}

// streamOpts says how a stream meets the local terminal.
type streamOpts struct {
	// tty: the remote side has a terminal. When stdin is one too it is put
	// in raw mode (^C travels as a byte) and window changes are sent.
	tty bool
	// attach: ctrl-p ctrl-q (and, without a tty, SIGINT) detach; input
	// EOF does not close the session's stdin. Otherwise (exec) SIGINT,
	// SIGTERM and SIGHUP are forwarded and EOF closes stdin.
	attach bool
}

// errDetached: the user detached from a session.
var errDetached = errors.New("detached")

// runStream wires the stream to the process's stdio until the remote
// process ends (its exit status) or the user detaches (errDetached).
func runStream(cmd *cobra.Command, s *client.Stream, o streamOpts) (int, error) {
	defer s.Close()
	stdin := cmd.InOrStdin()
	inFd, inTerm := termFd(stdin)
	detach := make(chan struct{}, 1)
	if o.tty && inTerm {
		old, err := term.MakeRaw(inFd)
		if err != nil {
			return 0, fmt.Errorf("putting the terminal in raw mode: %w", err)
		}
		defer term.Restore(inFd, old)
		resize := func() {
			if w, h, err := term.GetSize(inFd); err == nil {
				s.Resize(uint16(h), uint16(w))
			}
		}
		resize()
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, syscall.SIGWINCH)
		defer signal.Stop(winch)
		go func() {
			for range winch {
				resize()
			}
		}()
	} else {
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
		defer signal.Stop(sigs)
		go func() {
			for sig := range sigs {
				if o.attach {
					detach <- struct{}{}
					return
				}
				s.Signal(sigName(sig))
			}
		}()
	}
	go pumpStdin(stdin, s, o, detach)

	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		st, err := s.Output(cmd.OutOrStdout(), cmd.ErrOrStderr())
		if err == nil && st.Error != "" {
			err = errors.New(st.Error)
		}
		done <- result{st.Code, err}
	}()
	select {
	case r := <-done:
		return r.code, r.err
	case <-detach:
		return 0, errDetached
	}
}

// sigName names a signal as the agent expects ("SIGINT" → "INT").
func sigName(sig os.Signal) string {
	switch sig {
	case syscall.SIGINT:
		return "INT"
	case syscall.SIGTERM:
		return "TERM"
	case syscall.SIGHUP:
		return "HUP"
	}
	return sig.String()
}

func termFd(r io.Reader) (int, bool) {
	f, ok := r.(*os.File)
	if !ok {
		return 0, false
	}
	return int(f.Fd()), term.IsTerminal(int(f.Fd()))
}

// pumpStdin copies input to the stream, watching for the detach keys.
func pumpStdin(stdin io.Reader, s *client.Stream, o streamOpts, detach chan<- struct{}) {
	var d detacher
	buf := make([]byte, 32<<10)
	for {
		n, err := stdin.Read(buf)
		if n > 0 {
			p := buf[:n]
			seen := false
			if o.attach && o.tty {
				p, seen = d.filter(p)
			}
			if len(p) > 0 {
				if _, werr := s.Write(p); werr != nil {
					return
				}
			}
			if seen {
				detach <- struct{}{}
				return
			}
		}
		if err != nil {
			if !o.attach {
				s.CloseStdin()
			}
			return
		}
	}
}

// The detach sequence, as docker's: ctrl-p ctrl-q.
const (
	ctrlP = 0x10
	ctrlQ = 0x11
)

// detacher finds ctrl-p ctrl-q in a byte stream, even split across reads;
// a ctrl-p not followed by ctrl-q is passed on.
type detacher struct{ pending bool }

// filter returns the bytes to forward and whether the sequence was seen
// (bytes after it are dropped).
func (d *detacher) filter(p []byte) ([]byte, bool) {
	out := make([]byte, 0, len(p)+1)
	for _, b := range p {
		if d.pending {
			d.pending = false
			if b == ctrlQ {
				return out, true
			}
			out = append(out, ctrlP)
		}
		if b == ctrlP {
			d.pending = true
			continue
		}
		out = append(out, b)
	}
	return out, false
}

// exitWith turns a remote exit code into banger's own.
func exitWith(code int) error {
	if code == 0 {
		return nil
	}
	if code < 0 {
		code = 1
	}
	return exitError{code: code}
}
