package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"banger/internal/client"
)

func kernelRmCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "rm NAME", Aliases: []string{"remove"}, Short: "Remove a kernel no image or VM uses", Args: nameArg("kernel")}
	cmd.RunE = a.run(func(cmd *cobra.Command, c *client.Client, args []string) error {
		if err := c.DeleteKernel(cmd.Context(), args[0]); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "removed kernel %s\n", args[0])
		return nil
	})
	return cmd
}
