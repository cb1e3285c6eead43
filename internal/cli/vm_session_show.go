package cli

import (
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"banger/internal/client"
)

func vmSessionShowCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "show VM SESSION", Short: "Show one session", Args: sessionArgs}
	out := outputFlag(cmd)
	cmd.RunE = a.run(func(cmd *cobra.Command, c *client.Client, args []string) error {
		s, err := c.GetSession(cmd.Context(), args[0], args[1])
		if err != nil {
			return err
		}
		return render(cmd, *out, s, func(w io.Writer) {
			fields(w, "id", s.ID, "name", orDash(s.Name), "vm", s.VM, "state", s.State,
				"command", strings.Join(s.Argv, " "), "cwd", s.Cwd, "env keys", orDash(strings.Join(s.EnvKeys, " ")),
				"tty", strconv.FormatBool(s.TTY), "pid", strconv.Itoa(s.PID), "exit", exitText(s),
				"created", when(s.CreatedAt), "started", when(s.StartedAt), "ended", when(s.EndedAt))
			for _, l := range s.Diagnostics {
				fields(w, "diagnostics", l)
			}
			if s.Stale {
				fields(w, "note", "the VM's agent did not answer: this is the daemon's last record")
			}
		})
	})
	return cmd
}
