package cli

import (
	"context"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"banger/internal/client"
)

const execUse = "banger vm exec VM [--cwd DIR] [--env K=V] [-t] -- COMMAND [ARGS...]"

func vmExecCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "exec VM [flags] -- COMMAND [ARGS...]",
		Short: "Run a command in a VM through its agent (its exit code is banger's)",
		Long: `Run a command in a running VM. stdin, stdout and stderr are streamed
(binary-safe, stdout and stderr kept apart); the exit code is banger's (128+n
when the command is killed by signal n). Ctrl-C sends SIGINT to the command;
with -t it runs on a terminal of the local window's size, and the local
terminal is put in raw mode. If banger goes away, the command gets SIGHUP.`,
	}
	f := addCommandFlags(cmd, execUse, "working directory in the guest")
	cmd.RunE = a.run(func(cmd *cobra.Command, c *client.Client, args []string) error {
		vm, req, err := f.request(cmd, args)
		if err != nil {
			return err
		}
		if req.TTY {
			if w, h, err := term.GetSize(int(os.Stdin.Fd())); err == nil {
				req.Rows, req.Cols = uint16(h), uint16(w)
			}
		}
		// Signals are the stream's business (forwarded to the command), not
		// a reason to cancel it.
		s, err := c.Exec(context.WithoutCancel(cmd.Context()), vm, req)
		if err != nil {
			return err
		}
		code, err := runStream(cmd, s, streamOpts{tty: req.TTY})
		if err != nil {
			return err
		}
		return exitWith(code)
	})
	return cmd
}
