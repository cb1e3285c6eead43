package cli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"

	"github.com/spf13/cobra"

	"banger/internal/api"
	"banger/internal/client"
)

// exitError carries a remote command's exit code out of Execute.
type exitError struct{ code int }

func (e exitError) Error() string { return "exit status " + strconv.Itoa(e.code) }

func vmSSHCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ssh NAME [-- COMMAND...]",
		Short: "Open a shell in a VM, or run a command there (its exit code is banger's)",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 {
				return usageErr("missing the VM name: banger vm ssh NAME [-- COMMAND...]")
			}
			return api.ValidateName("VM", args[0])
		},
	}
	cmd.RunE = a.run(func(cmd *cobra.Command, c *client.Client, args []string) error {
		info, err := c.SSHInfo(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		sshArgs := sshArgv(info, len(args) == 1)
		if len(args) > 1 {
			sshArgs = append(sshArgs, "--")
			sshArgs = append(sshArgs, args[1:]...)
		}
		bin, err := exec.LookPath("ssh")
		if err != nil {
			return &api.Error{Code: api.CodeUnavailable, Message: "ssh is not installed", Hint: "apt-get install openssh-client"}
		}
		ssh := exec.CommandContext(cmd.Context(), bin, sshArgs...)
		ssh.Stdin, ssh.Stdout, ssh.Stderr = os.Stdin, cmd.OutOrStdout(), cmd.ErrOrStderr()
		err = ssh.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ee.ExitCode() == 255 {
				return fmt.Errorf("ssh to %s (%s) failed (exit 255): see the messages above", args[0], info.Host)
			}
			return exitError{code: ee.ExitCode()}
		}
		return err
	})
	return cmd
}

// sshArgv logs in with banger's key. Guests are fresh VMs whose host keys
// are made at first boot on banger's private bridge: nothing to pin.
func sshArgv(info *api.SSHInfo, interactive bool) []string {
	argv := []string{
		"-i", info.KeyPath, "-p", strconv.Itoa(info.Port),
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "LogLevel=ERROR", "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
	}
	if interactive {
		argv = append(argv, "-t")
	}
	return append(argv, info.User+"@"+info.Host)
}
