package cli

import (
	"io"

	"github.com/spf13/cobra"

	"banger/internal/client"
)

func imageShowCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "show NAME", Aliases: []string{"inspect"}, Short: "Show one image", Args: nameArg("image")}
	out := outputFlag(cmd)
	cmd.RunE = a.run(func(cmd *cobra.Command, c *client.Client, args []string) error {
		i, err := c.GetImage(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		return render(cmd, *out, i, func(w io.Writer) {
			fields(w, "Name", i.Name, "ID", i.ID, "Path", i.Path, "Size", size(i.SizeBytes),
				"Kernel", orDash(i.Kernel), "Created", when(i.CreatedAt))
		})
	})
	return cmd
}
