package cli

import "github.com/spf13/cobra"

func systemCmd(a *app) *cobra.Command {
	cmd := group(&cobra.Command{Use: "system", Short: "Manage banger's host set-up"})
	cmd.AddCommand(systemTeardownCmd(a))
	return cmd
}
