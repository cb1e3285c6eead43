package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"banger/internal/client"
)

func imageRmCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "rm NAME", Aliases: []string{"remove"}, Short: "Remove an image no VM uses", Args: nameArg("image")}
	cmd.RunE = a.run(func(cmd *cobra.Command, c *client.Client, args []string) error {
		if err := c.DeleteImage(cmd.Context(), args[0]); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "removed image %s\n", args[0])
		return nil
	})
	return cmd
}
