package cli

import (
	"github.com/spf13/cobra"

	"banger/internal/client"
)

func vmSessionLogsCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "logs VM SESSION",
		Short: "Print a session's scrollback (stdout and stderr apart); -f follows it until it ends",
		Args:  sessionArgs}
	follow := cmd.Flags().BoolP("follow", "f", false, "follow the output until the session ends")
	cmd.RunE = a.run(func(cmd *cobra.Command, c *client.Client, args []string) error {
		_, err := c.SessionLogs(cmd.Context(), args[0], args[1], *follow, cmd.OutOrStdout(), cmd.ErrOrStderr())
		return err
	})
	return cmd
}
