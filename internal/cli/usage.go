package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"banger/internal/api"
)

// usageError is a mistake in how the command was called (exit 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErr(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exactArgs requires exactly the named positional arguments.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == len(names) {
			return nil
		}
		want := strings.Join(names, " ")
		if len(args) < len(names) {
			return usageErr("%s needs %s: %s %s", cmd.CommandPath(), want, cmd.CommandPath(), want)
		}
		return usageErr("%s takes only %s, got %d arguments: %s", cmd.CommandPath(), want, len(args), strings.Join(args, " "))
	}
}

// NoArgs refuses positional arguments with a usage error (exit 2).
func NoArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErr("%s takes no arguments, got %q", cmd.CommandPath(), strings.Join(args, " "))
	}
	return nil
}

// group makes cmd a command that only holds subcommands: called alone or
// with an unknown subcommand it is a usage error naming the choices.
func group(cmd *cobra.Command) *cobra.Command {
	cmd.Args = cobra.ArbitraryArgs // so cobra does not answer "unknown command" itself
	cmd.SuggestionsMinimumDistance = 2
	cmd.RunE = func(c *cobra.Command, args []string) error {
		var subs []string
		for _, s := range c.Commands() {
			if s.IsAvailableCommand() {
				subs = append(subs, s.Name())
			}
		}
		choices := strings.Join(subs, ", ")
		if len(args) == 0 {
			return usageErr("%s needs a command: %s", c.CommandPath(), choices)
		}
		msg := fmt.Sprintf("unknown command %q for %s", args[0], c.CommandPath())
		if sug := c.SuggestionsFor(args[0]); len(sug) > 0 {
			msg += fmt.Sprintf("; did you mean %s?", strings.Join(sug, " or "))
		}
		return usageErr("%s (commands: %s)", msg, choices)
	}
	return cmd
}

// nameArg requires one NAME argument that follows the name rule of kind
// ("VM", "image", "kernel"), so a bad name is refused before any call.
func nameArg(kind string) cobra.PositionalArgs {
	exact := exactArgs("NAME")
	return func(cmd *cobra.Command, args []string) error {
		if err := exact(cmd, args); err != nil {
			return err
		}
		return api.ValidateName(kind, args[0])
	}
}
