package cli

import (
	"io"

	"github.com/spf13/cobra"

	"banger/internal/api"
	"banger/internal/client"
)

func vmSessionLsCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "ls [VM]", Aliases: []string{"list"},
		Short: "List sessions of a VM, or of every VM (a state ending in ? is the last record: the guest did not answer)",
		Args: func(cmd *cobra.Command, args []string) error {
			switch len(args) {
			case 0:
				return nil
			case 1:
				return api.ValidateName("VM", args[0])
			}
			return usageErr("%s takes at most a VM name", cmd.CommandPath())
		}}
	out := outputFlag(cmd)
	cmd.RunE = a.run(func(cmd *cobra.Command, c *client.Client, args []string) error {
		vm := ""
		if len(args) == 1 {
			vm = args[0]
		}
		ss, err := c.ListSessions(cmd.Context(), vm)
		if err != nil {
			return err
		}
		return render(cmd, *out, ss, func(w io.Writer) { sessionTable(w, ss) })
	})
	return cmd
}
