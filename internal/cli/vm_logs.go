package cli

import (
	"github.com/spf13/cobra"

	"banger/internal/client"
)

func vmLogsCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "logs NAME", Short: "Show a VM's serial console", Args: nameArg("VM")}
	cmd.RunE = a.run(func(cmd *cobra.Command, c *client.Client, args []string) error {
		return c.Logs(cmd.Context(), args[0], cmd.OutOrStdout())
	})
	return cmd
}
