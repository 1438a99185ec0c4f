// Package cli holds netpolgen's commands. Each command lives in its own
// file and only wires flags to the packages that do the work.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Streams are the standard streams a command reads and writes, so tests
// can run commands in-process.
type Streams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// ExitError carries a specific exit code out of a command (diff-like
// commands use 1 for "differences found").
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// NewRootCommand builds the netpolgen command tree.
func NewRootCommand(streams Streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "netpolgen",
		Short: "Learn least-privilege network policy from Hubble flows",
		Long: `netpolgen learns which workloads really talk to each other from Cilium's
Hubble flow records, and writes minimal zero-trust NetworkPolicy and
CiliumNetworkPolicy for exactly that traffic.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	registerLogFlags(root.PersistentFlags())
	// Every command checks the log flags first, so a wrong --log-format
	// fails before any work.
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		log, err := commandLogger(cmd, streams.Err)
		if err != nil {
			return err
		}
		warnOldNames(cmd, log)
		return nil
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.Err)
	root.AddCommand(
		newVersionCommand(streams),
		newInspectCommand(streams),
		newGenCommand(streams),
		newDiffCommand(streams),
		newGraphCommand(streams),
		newMergeCommand(streams),
		newLearnCommand(streams),
		newVerifyCommand(streams),
		newReplayCommand(streams),
		newDriftCommand(streams),
		newVisibilityCommand(streams),
	)
	for _, c := range root.Commands() {
		// gen's flags all describe one synthetic scenario: one list.
		if c.HasFlags() && !c.HasSubCommands() && c.Name() != "gen" {
			groupFlagsInHelp(c)
		}
	}
	return root
}

// Run executes the command line and returns the process exit code.
func Run(ctx context.Context, streams Streams, args []string) int {
	root := NewRootCommand(streams)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	log := logger(cmd, streams)
	var exit *ExitError
	if errors.As(err, &exit) {
		if exit.Err != nil {
			log.Error(phraseError(exit.Err))
		}
		return exit.Code
	}
	log.Error(phraseError(err))
	return 2
}
