package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"banger/internal/api"
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
		if len(r.Leftovers) > 0 {
			return &api.Error{Code: api.CodeInternal,
				Message: "still present after teardown: " + strings.Join(r.Leftovers, ", "),
				Hint:    "they may be in use or not banger's; inspect them (ip link, nft list tables) and remove them by hand if they are"}
		}
		return nil
	})
	return cmd
}
