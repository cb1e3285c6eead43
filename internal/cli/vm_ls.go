package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"banger/internal/client"
)

func vmLsCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "ls", Aliases: []string{"list", "ps"}, Short: "List VMs", Args: NoArgs}
	out := outputFlag(cmd)
	cmd.RunE = a.run(func(cmd *cobra.Command, c *client.Client, _ []string) error {
		vms, err := c.ListVMs(cmd.Context())
		if err != nil {
			return err
		}
		return render(cmd, *out, vms, func(w io.Writer) {
			fmt.Fprintln(w, "NAME\tSTATE\tIMAGE\tVCPUS\tMEMORY\tIP\tCREATED")
			for _, v := range vms {
				fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%dMiB\t%s\t%s\n", v.Name, v.State, orDash(v.Image), v.VCPUs, v.MemoryMiB, orDash(v.IP), when(v.CreatedAt))
			}
		})
	})
	return cmd
}
