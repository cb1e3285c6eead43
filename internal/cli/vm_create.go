package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"banger/internal/api"
	"banger/internal/client"
)

func vmCreateCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "create NAME", Short: "Create and boot a VM", Args: nameArg("VM")}
	var req api.CreateVMRequest
	f := cmd.Flags()
	f.StringVar(&req.Image, "image", "", "root filesystem image (default: the configured one)")
	f.StringVar(&req.Kernel, "kernel", "", "guest kernel (default: the image's)")
	f.IntVar(&req.VCPUs, "cpus", 0, "virtual CPUs (default from config)")
	f.IntVar(&req.MemoryMiB, "memory", 0, "memory in MiB (default from config)")
	f.StringVar(&req.DiskSize, "disk-size", "", "root disk size, e.g. 8G (default from config)")
	f.StringVar(&req.VMM, "vmm", "", "firecracker or qemu (default from config)")
	cmd.PreRunE = func(_ *cobra.Command, args []string) error {
		req.Name = args[0]
		return req.Validate() // before the daemon, so typos fail fast
	}
	cmd.RunE = a.run(func(cmd *cobra.Command, c *client.Client, _ []string) error {
		v, err := c.CreateVM(cmd.Context(), req)
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "created VM %s (%s), IP %s\n", v.Name, v.State, orDash(v.IP))
		return nil
	})
	return cmd
}
