package cli

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"banger/internal/api"
	"banger/internal/client"
)

func kernelImportCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Import a guest kernel (default: the newest in the host's /boot)",
		Args:  NoArgs,
	}
	var req api.ImportKernelRequest
	f := cmd.Flags()
	f.StringVar(&req.Name, "name", "", "kernel name (default: its version)")
	f.StringVar(&req.Kernel, "kernel", "", "kernel image: bzImage or ELF vmlinux (absolute path)")
	f.StringVar(&req.Initrd, "initrd", "", "initrd (absolute path)")
	f.StringVar(&req.Modules, "modules", "", "modules directory, /lib/modules/<version>")
	cmd.RunE = a.run(func(cmd *cobra.Command, c *client.Client, _ []string) error {
		if req.Name != "" {
			if err := api.ValidateName("kernel", req.Name); err != nil {
				return err
			}
		}
		if req.Kernel == "" && (req.Initrd != "" || req.Modules != "") {
			return usageErr("--initrd and --modules go with --kernel")
		}
		// The daemon does not share the CLI's working directory.
		for _, p := range []*string{&req.Kernel, &req.Initrd, &req.Modules} {
			if *p != "" {
				abs, err := filepath.Abs(*p)
				if err != nil {
					return err
				}
				*p = abs
			}
		}
		k, err := c.ImportKernel(cmd.Context(), req)
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "imported kernel %s (%s)\n", k.Name, orDash(k.Version))
		return nil
	})
	return cmd
}
