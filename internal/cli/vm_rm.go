package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"banger/internal/client"
)

func vmRmCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "rm NAME", Aliases: []string{"remove"}, Short: "Remove a VM and its disk", Args: nameArg("VM")}
	force := cmd.Flags().BoolP("force", "f", false, "remove the VM even if it is running")
	cmd.RunE = a.run(func(cmd *cobra.Command, c *client.Client, args []string) error {
		if err := c.DeleteVM(cmd.Context(), args[0], *force); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "removed VM %s\n", args[0])
		return nil
	})
	return cmd
}
