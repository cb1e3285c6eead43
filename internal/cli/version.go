package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"banger/internal/api"
	"banger/internal/client"
)

type versions struct {
	Client string           `json:"client"`
	Daemon *api.VersionInfo `json:"daemon"`
}

func versionCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "version", Short: "Show the CLI's and the daemon's versions", Args: NoArgs}
	out := outputFlag(cmd)
	cmd.RunE = a.run(func(cmd *cobra.Command, c *client.Client, _ []string) error {
		d, err := c.Version(cmd.Context())
		if err != nil {
			fmt.Fprintf(cmd.OutOrStdout(), "client: %s\n", a.version) // still useful when the daemon is down
			return err
		}
		return render(cmd, *out, versions{Client: a.version, Daemon: d}, func(w io.Writer) {
			fields(w, "client", a.version, "daemon", fmt.Sprintf("%s (API %s, %s)", d.Version, d.API, d.GoVersion))
		})
	})
	return cmd
}
