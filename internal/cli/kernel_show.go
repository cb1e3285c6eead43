package cli

import (
	"io"

	"github.com/spf13/cobra"

	"banger/internal/client"
)

func kernelShowCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "show NAME", Aliases: []string{"inspect"}, Short: "Show one kernel", Args: nameArg("kernel")}
	out := outputFlag(cmd)
	cmd.RunE = a.run(func(cmd *cobra.Command, c *client.Client, args []string) error {
		k, err := c.GetKernel(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		return render(cmd, *out, k, func(w io.Writer) {
			fields(w, "Name", k.Name, "ID", k.ID, "Version", orDash(k.Version), "Path", k.Path,
				"Initrd", orDash(k.Initrd), "Created", when(k.CreatedAt))
		})
	})
	return cmd
}
