package cli

import "github.com/spf13/cobra"

func imageCmd(a *app) *cobra.Command {
	cmd := group(&cobra.Command{Use: "image", Short: "Manage root filesystem images"})
	cmd.AddCommand(imageLsCmd(a), imageShowCmd(a), imageRmCmd(a), imageBootstrapCmd(a))
	return cmd
}
