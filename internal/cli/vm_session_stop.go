package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"banger/internal/client"
)

func vmSessionStopCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "stop VM SESSION",
		Short: "Stop a session: SIGTERM, then SIGKILL after --timeout; prints how it ended",
		Args:  sessionArgs}
	timeout := cmd.Flags().Duration("timeout", 10*time.Second, "how long to wait after SIGTERM before SIGKILL")
	cmd.RunE = a.run(func(cmd *cobra.Command, c *client.Client, args []string) error {
		if *timeout <= 0 {
			return usageErr("--timeout must be positive, e.g. 10s")
		}
		s, err := c.StopSession(cmd.Context(), args[0], args[1], *timeout)
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "session %s %s: exit %s\n", s.ID, s.State, exitText(s))
		return nil
	})
	return cmd
}
