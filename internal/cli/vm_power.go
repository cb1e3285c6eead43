package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"banger/internal/api"
	"banger/internal/client"
)

// vmPowerCmd builds start/stop/kill: one API call and a one-line report.
func vmPowerCmd(a *app, use, short, done string, call func(*client.Client, context.Context, string) (*api.VM, error)) *cobra.Command {
	cmd := &cobra.Command{Use: use + " NAME", Short: short, Args: nameArg("VM")}
	cmd.RunE = a.run(func(cmd *cobra.Command, c *client.Client, args []string) error {
		v, err := call(c, cmd.Context(), args[0])
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s VM %s (%s)\n", done, v.Name, v.State)
		return nil
	})
	return cmd
}

func vmStartCmd(a *app) *cobra.Command {
	return vmPowerCmd(a, "start", "Boot a stopped VM and wait until it is ready", "started", (*client.Client).StartVM)
}

func vmStopCmd(a *app) *cobra.Command {
	return vmPowerCmd(a, "stop", "Shut a VM down gracefully (killed after a timeout)", "stopped", (*client.Client).StopVM)
}

func vmKillCmd(a *app) *cobra.Command {
	return vmPowerCmd(a, "kill", "End a VM's VMM process at once", "killed", (*client.Client).KillVM)
}
