package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"banger/internal/client"
)

func kernelLsCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "ls", Aliases: []string{"list"}, Short: "List kernels", Args: NoArgs}
	out := outputFlag(cmd)
	cmd.RunE = a.run(func(cmd *cobra.Command, c *client.Client, _ []string) error {
		ks, err := c.ListKernels(cmd.Context())
		if err != nil {
			return err
		}
		return render(cmd, *out, ks, func(w io.Writer) {
			fmt.Fprintln(w, "NAME\tVERSION\tCREATED")
			for _, k := range ks {
				fmt.Fprintf(w, "%s\t%s\t%s\n", k.Name, orDash(k.Version), when(k.CreatedAt))
			}
		})
	})
	return cmd
}
