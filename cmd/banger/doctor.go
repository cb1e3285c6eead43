package main

import (
	"os"

	"github.com/spf13/cobra"

	"banger/internal/cli"
	"banger/internal/config"
	"banger/internal/doctor"
)

// doctorCmd checks the host. It runs in the CLI process, without the
// daemon, so it also explains why a daemon cannot start.
func doctorCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check that this host can run banger VMs, with a fix for each problem",
		Args:  cli.NoArgs,
	}
	asJSON := cmd.Flags().Bool("json", false, "print the report as JSON")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		path, _ := cmd.Flags().GetString("config")
		cfg, err := config.Load(path)
		if err != nil {
			return err
		}
		r := doctor.Run(cmd.Context(), cfg, doctor.Options{})
		if *asJSON {
			err = r.WriteJSON(cmd.OutOrStdout())
		} else {
			err = r.WriteText(cmd.OutOrStdout())
		}
		if err != nil {
			return err
		}
		if code := r.ExitCode(); code != 0 {
			os.Exit(code)
		}
		return nil
	}
	return cmd
}
