package cli

import "github.com/spf13/cobra"

func kernelCmd(a *app) *cobra.Command {
	cmd := group(&cobra.Command{Use: "kernel", Short: "Manage guest kernels"})
	cmd.AddCommand(kernelLsCmd(a), kernelShowCmd(a), kernelRmCmd(a), kernelImportCmd(a))
	return cmd
}
