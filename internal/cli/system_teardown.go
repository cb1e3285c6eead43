package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"banger/internal/client"
)

func systemTeardownCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "teardown", Short: "Remove the bridge, taps and firewall table banger created", Args: NoArgs}
	force := cmd.Flags().BoolP("force", "f", false, "tear down even while VMs are running (they lose their network)")
	cmd.RunE = a.run(func(cmd *cobra.Command, c *client.Client, _ []string) error {
		r, err := c.Teardown(cmd.Context(), *force)
		if err != nil {
			return err
		}
		fmt.Fprintln(cmd.OutOrStdout(), r.Message)
		return nil
	})
	return cmd
}
