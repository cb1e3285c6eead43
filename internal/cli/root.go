// Package cli is banger's command tree. Each command lives in its own file
// and is a few lines: flags, one client call, render. The CLI talks to the
// daemon only through package client; it never imports the daemon's
// internals (a test enforces it).
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"banger/internal/api"
	"banger/internal/client"
	"banger/internal/config"
)

// app holds the global flags every command shares.
type app struct {
	socket     string
	configPath string
	version    string
}

// NewRoot returns the `banger` command tree (without `daemon`, which
// cmd/banger adds). version is the build version.
func NewRoot(version string) *cobra.Command {
	a := &app{version: version}
	root := &cobra.Command{
		Use:           "banger",
		Short:         "Run coding agents in microVMs",
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	group(root)
	root.PersistentFlags().StringVar(&a.socket, "socket", "", "daemon API socket (env "+config.EnvSocket+"; default from the config file)")
	root.PersistentFlags().StringVar(&a.configPath, "config", "", "config file (env "+config.EnvConfig+"; default "+config.DefaultPath+")")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageErr("%s", err.Error()) })
	root.AddCommand(vmCmd(a), imageCmd(a), kernelCmd(a), systemCmd(a), versionCmd(a))
	return root
}

// client resolves the socket: --socket, then $BANGER_SOCKET, then the
// config file's `socket` (which Load fills with the default when unset).
func (a *app) client() (*client.Client, error) {
	if a.socket != "" {
		return client.New(a.socket), nil
	}
	if s := os.Getenv(config.EnvSocket); s != "" {
		return client.New(s), nil
	}
	cfg, err := config.Load(a.configPath)
	if err != nil {
		return nil, &api.Error{Code: api.CodeInvalidArgument,
			Message: fmt.Sprintf("loading config to find the daemon socket: %v", err),
			Hint:    "fix the config file, or name the socket with --socket"}
	}
	return client.New(cfg.Socket), nil
}

// Execute runs root with args and returns the process exit code: 0, 1 for
// a failed operation, 2 for a usage error. Errors go to stderr as
// "banger: <message>" plus a "hint: ..." line when there is one.
func Execute(ctx context.Context, root *cobra.Command, args []string, stdout, stderr io.Writer) int {
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "banger: %s\nRun '%s --help' for usage.\n", ue.msg, cmd.CommandPath())
		return 2
	}
	var xe exitError
	if errors.As(err, &xe) {
		return xe.code // the remote command's own status; it printed its own messages
	}
	var ae *api.Error
	if errors.As(err, &ae) {
		fmt.Fprintf(stderr, "banger: %s\n", ae.Message)
		if ae.Hint != "" {
			fmt.Fprintf(stderr, "hint: %s\n", ae.Hint)
		}
		return 1
	}
	fmt.Fprintf(stderr, "banger: %v\n", err)
	return 1
}

// run adapts a command body that talks to the daemon into a RunE.
func (a *app) run(body func(cmd *cobra.Command, c *client.Client, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		return body(cmd, c, args)
	}
}
