package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"banger/internal/api"
	"banger/internal/client"
)

func imageBootstrapCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bootstrap",
		Short: "Build a Debian base image with debootstrap (cached by its inputs)",
		Args:  NoArgs,
	}
	var req api.BootstrapImageRequest
	quiet := false
	f := cmd.Flags()
	f.StringVar(&req.Name, "name", "", "image name (default debian-<suite>)")
	f.StringVar(&req.Kernel, "kernel", "", "kernel whose modules go into the image (default: the newest)")
	f.StringVar(&req.Suite, "suite", "", "Debian suite (default bookworm)")
	f.StringVar(&req.Size, "size", "", "image size, e.g. 2G (default 2G)")
	f.StringSliceVar(&req.Packages, "package", nil, "extra Debian package (repeatable)")
	f.BoolVarP(&quiet, "quiet", "q", false, "print only phase changes")
	cmd.RunE = a.run(func(cmd *cobra.Command, c *client.Client, _ []string) error {
		if req.Name != "" {
			if err := api.ValidateName("image", req.Name); err != nil {
				return err
			}
		}
		phase := ""
		img, err := c.BootstrapImage(cmd.Context(), req, func(ev api.Event) {
			if ev.Phase != phase {
				phase = ev.Phase
				fmt.Fprintf(cmd.ErrOrStderr(), "==> %s\n", phase)
			}
			if !quiet && ev.Line != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "    %s\n", ev.Line)
			}
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "image %s ready (%s)\n", img.Name, size(img.SizeBytes))
		return nil
	})
	return cmd
}
