package cli

import (
	"github.com/spf13/cobra"

	"banger/internal/client"
)

func vmSessionRmCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "rm VM SESSION", Short: "Remove an ended session and its scrollback", Args: sessionArgs}
	force := cmd.Flags().BoolP("force", "f", false, "stop a running session first")
	cmd.RunE = a.run(func(cmd *cobra.Command, c *client.Client, args []string) error {
		return c.RemoveSession(cmd.Context(), args[0], args[1], *force)
	})
	return cmd
}
