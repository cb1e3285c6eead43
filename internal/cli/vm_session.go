package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"banger/internal/api"
)

func vmSessionCmd(a *app) *cobra.Command {
	cmd := group(&cobra.Command{Use: "session", Aliases: []string{"sessions"},
		Short: "Long-lived processes in a VM that outlive banger and its daemon"})
	cmd.AddCommand(vmSessionStartCmd(a), vmSessionAttachCmd(a), vmSessionLsCmd(a), vmSessionShowCmd(a),
		vmSessionLogsCmd(a), vmSessionStopCmd(a), vmSessionKillCmd(a), vmSessionRmCmd(a))
	return cmd
}

// sessionArgs requires VM and SESSION (an id or a name).
func sessionArgs(cmd *cobra.Command, args []string) error {
	if err := exactArgs("VM", "SESSION")(cmd, args); err != nil {
		return err
	}
	if err := api.ValidateName("VM", args[0]); err != nil {
		return err
	}
	return api.ValidateName("session", args[1])
}

// exitText describes how a session ended.
func exitText(s *api.Session) string {
	if s.ExitCode == nil {
		return "-"
	}
	t := strconv.Itoa(*s.ExitCode)
	if s.Signal != "" {
		t += " (" + s.Signal + ")"
	}
	return t
}

func sessionTable(w io.Writer, ss []api.Session) {
	fmt.Fprintln(w, "VM\tID\tNAME\tSTATE\tEXIT\tCREATED\tCOMMAND")
	for _, s := range ss {
		state := s.State
		if s.Stale {
			state += "?"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.VM, s.ID, orDash(s.Name), state, exitText(&s),
			when(s.CreatedAt), strings.Join(s.Argv, " "))
	}
}
