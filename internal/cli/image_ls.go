package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"banger/internal/client"
)

func imageLsCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "ls", Aliases: []string{"list"}, Short: "List images", Args: NoArgs}
	out := outputFlag(cmd)
	cmd.RunE = a.run(func(cmd *cobra.Command, c *client.Client, _ []string) error {
		imgs, err := c.ListImages(cmd.Context())
		if err != nil {
			return err
		}
		return render(cmd, *out, imgs, func(w io.Writer) {
			fmt.Fprintln(w, "NAME\tSIZE\tKERNEL\tCREATED")
			for _, i := range imgs {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", i.Name, size(i.SizeBytes), orDash(i.Kernel), when(i.CreatedAt))
			}
		})
	})
	return cmd
}
