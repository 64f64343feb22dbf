package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
)

// usageError is an error in how veil was called — a flag's value, the
// number of arguments, a combination that makes no sense — rather than in
// the files or peers it works with: veil exits with status 2 for it, as
// for cobra's own flag and argument errors.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef returns a usageError with a formatted message.
func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// exitStatus is veil's exit status for err: 0 without one, 2 for a usage
// error, 1 otherwise.
func exitStatus(err error) int {
	var u usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &u):
		return 2
	}
	return 1
}

// markUsageErrors makes the flag and argument errors of c and its
// subcommands usage errors.
func markUsageErrors(c *cobra.Command) {
	c.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	if args := c.Args; args != nil {
		c.Args = func(cmd *cobra.Command, a []string) error {
			if err := args(cmd, a); err != nil {
				return usageError{fmt.Errorf("%s: %w (see veil %s --help)", cmd.CommandPath(), err, cmd.Name())}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		markUsageErrors(sub)
	}
}
