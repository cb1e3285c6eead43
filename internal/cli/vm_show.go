package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"banger/internal/api"
	"banger/internal/client"
)

func vmShowCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "show NAME", Aliases: []string{"inspect"}, Short: "Show one VM", Args: nameArg("VM")}
	out := outputFlag(cmd)
	cmd.RunE = a.run(func(cmd *cobra.Command, c *client.Client, args []string) error {
		v, err := c.GetVM(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		return render(cmd, *out, v, func(w io.Writer) {
			fields(w, "Name", v.Name, "ID", v.ID, "State", v.State, "Image", orDash(v.Image), "Kernel", orDash(v.Kernel),
				"VCPUs", fmt.Sprint(v.VCPUs), "Memory", fmt.Sprintf("%dMiB", v.MemoryMiB), "Disk", size(v.DiskSizeBytes),
				"VMM", orDash(v.VMM), "IP", orDash(v.IP), "MAC", orDash(v.MAC), "Tap", orDash(v.Tap),
				"Process", process(v), "Created", when(v.CreatedAt),
				"Last error", orDash(v.LastError))
		})
	})
	return cmd
}

// process describes the VMM process of a running VM.
func process(v *api.VM) string {
	if v.PID == 0 {
		return "-"
	}
	return fmt.Sprintf("pid %d (%s)", v.PID, orDash(v.Accel))
}
