package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"banger/internal/client"
)

func vmSessionAttachCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "attach VM SESSION",
		Short: "Replay a session's output and follow it; input goes to the session",
		Long: `Attach to a session: its scrollback is replayed, then its output followed,
and input goes to its process. Several attachers may share a session.
With a terminal session the local terminal is raw and ctrl-p ctrl-q detaches;
otherwise stdout and stderr stay apart and Ctrl-C detaches. Detaching leaves
the session running. When the session ends (or had ended), banger exits
with its exit code.`,
		Args: sessionArgs,
	}
	cmd.RunE = a.run(func(cmd *cobra.Command, c *client.Client, args []string) error {
		// SIGINT detaches (runStream) rather than cancelling the stream.
		s, info, err := c.Attach(context.WithoutCancel(cmd.Context()), args[0], args[1])
		if err != nil {
			return err
		}
		code, err := runStream(cmd, s, streamOpts{tty: info.TTY, attach: true})
		if errors.Is(err, errDetached) {
			fmt.Fprintf(cmd.ErrOrStderr(), "\r\ndetached from session %s; it runs on\n", info.ID)
			return nil
		}
		if err != nil {
			return err
		}
		return exitWith(code)
	})
	return cmd
}
