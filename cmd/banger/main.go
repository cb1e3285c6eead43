// Command banger is the CLI and, as `banger daemon`, the daemon. This is the
// only place where the two are wired together: internal/cli never imports
// the daemon.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"banger/internal/cli"
)

var version = "dev" // set by -ldflags "-X main.version=..."

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	root := cli.NewRoot(version)
	root.AddCommand(daemonCmd(), doctorCmd())
	code := cli.Execute(ctx, root, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
