package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"banger/internal/cli"
	"banger/internal/config"
	"banger/internal/daemon"
	"banger/internal/hostnet"
	"banger/internal/store"
)

// StoreFile is the SQLite database under the state directory.
const StoreFile = "banger.db"

func daemonCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "daemon",
		Short: "Run the banger daemon (as root; usually started by systemd)",
		Long: "Run the banger daemon in the foreground. It serves the API on the configured socket\n" +
			"until SIGTERM or SIGINT; VMs keep running when it stops.",
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, _ := cmd.Flags().GetString("config")
			cfg, err := config.Load(path)
			if err != nil {
				return err
			}
			if s, _ := cmd.Flags().GetString("socket"); s != "" {
				cfg.Socket = s
			}
			return runDaemon(cmd.Context(), cfg)
		},
	}
}

// runDaemon opens what the daemon needs, serves until ctx ends, and closes
// everything in reverse order.
func runDaemon(ctx context.Context, cfg config.Config) error {
	log, logFile, err := daemon.NewLogger(cfg.StateDir, cfg.LogLevel, os.Stderr)
	if err != nil {
		return err
	}
	defer logFile.Close()

	// The socket first: a second daemon must stop here, before it touches
	// the store. Connections wait in the backlog until Serve.
	ln, err := daemon.Listen(cfg.Socket, daemon.DefaultSocketGroup)
	if err != nil {
		return err
	}
	defer ln.Close() // on early returns; Serve closes it otherwise

	st, err := store.Open(ctx, filepath.Join(cfg.StateDir, StoreFile))
	if err != nil {
		return fmt.Errorf("opening store: %w", err)
	}
	defer st.Close()

	net, err := hostnet.New(hostnet.Config{
		Bridge:  cfg.Network.Bridge,
		Gateway: cfg.Gateway(),
		Table:   cfg.Network.Table,
	}, daemon.StoreRecorder{Store: st}, log.With("component", "hostnet"))
	if err != nil {
		return fmt.Errorf("setting up host network: %w", err)
	}
	deps, err := lifecycleDeps(ctx, cfg, st, net, log)
	if err != nil {
		return err
	}
	deps.Store, deps.Network, deps.Logger, deps.Version = st, net, log, version

	d, err := daemon.New(cfg, deps)
	if err != nil {
		return err
	}
	if err := notifyReady(); err != nil {
		log.Warn("systemd readiness not sent", "err", err)
	}
	if err := d.Serve(ctx, ln); err != nil {
		return err
	}
	log.Info("daemon stopped")
	return nil
}
