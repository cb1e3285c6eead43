package cli

import (
	"github.com/spf13/cobra"

	"banger/internal/client"
)

func vmSessionKillCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "kill VM SESSION", Short: "Send a signal to a session's process group", Args: sessionArgs}
	sig := cmd.Flags().StringP("signal", "s", "KILL", "signal to send: a name (TERM, INT, SIGHUP) or a number")
	cmd.RunE = a.run(func(cmd *cobra.Command, c *client.Client, args []string) error {
		if *sig == "" {
			return usageErr("--signal is empty: name a signal, e.g. TERM or 9")
		}
		_, err := c.SignalSession(cmd.Context(), args[0], args[1], *sig)
		return err
	})
	return cmd
}
