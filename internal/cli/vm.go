package cli

import "github.com/spf13/cobra"

func vmCmd(a *app) *cobra.Command {
	cmd := group(&cobra.Command{Use: "vm", Short: "Manage VMs"})
	cmd.AddCommand(vmLsCmd(a), vmShowCmd(a), vmRmCmd(a), vmCreateCmd(a),
		vmStartCmd(a), vmStopCmd(a), vmKillCmd(a), vmLogsCmd(a), vmSSHCmd(a))
	cmd.AddCommand(vmExecCmd(a), vmSessionCmd(a))
	return cmd
}
