package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"banger/internal/api"
	"banger/internal/client"
)

const sessionStartUse = "banger vm session start VM [--name N] [--cwd DIR] [--env K=V] [--tty] -- COMMAND [ARGS...]"

func vmSessionStartCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "start VM [flags] -- COMMAND [ARGS...]",
		Short: "Start a detached session and print its id",
		Long: `Start a long-lived process in a VM, detached from banger. The guest checks
the working directory and the command first (nothing is started otherwise);
a command that dies within half a second is reported with its exit code and
last stderr lines, and banger exits 1. Attach with 'banger vm session attach'.`,
	}
	f := addCommandFlags(cmd, sessionStartUse, "working directory in the guest (default /)")
	name := cmd.Flags().String("name", "", "a name to find the session by (unique in the VM)")
	cmd.RunE = a.run(func(cmd *cobra.Command, c *client.Client, args []string) error {
		vm, req, err := f.request(cmd, args)
		if err != nil {
			return err
		}
		if *name != "" {
			if err := api.ValidateName("session", *name); err != nil {
				return err
			}
		}
		s, err := c.StartSession(cmd.Context(), vm, api.StartSessionRequest{Name: *name, ExecRequest: req})
		if err != nil {
			return err
		}
		if s.State == api.SessionExited {
			return &api.Error{Code: api.CodeInvalidArgument,
				Message: fmt.Sprintf("session %s exited at once with code %s; its last output:\n%s", s.ID, exitText(s), strings.Join(s.Diagnostics, "\n")),
				Hint:    "see it all with `banger vm session logs " + vm + " " + s.ID + "`"}
		}
		fmt.Fprintln(cmd.OutOrStdout(), s.ID)
		return nil
	})
	return cmd
}
