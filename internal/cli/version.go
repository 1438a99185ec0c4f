package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

func newVersionCommand(streams Streams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the netpolgen version and the Hubble API it speaks",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprintln(streams.Out, versionString())
			return nil
		},
	}
}

// versionString reads the version from the build information the Go
// toolchain embeds, so no build flag has to set it.
func versionString() string {
	version, revision, cilium := "(devel)", "", "unknown"
	if info, ok := debug.ReadBuildInfo(); ok {
		if info.Main.Version != "" {
			version = info.Main.Version
		}
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				revision = s.Value
			}
		}
		for _, dep := range info.Deps {
			if dep.Path == "github.com/cilium/cilium" {
				cilium = dep.Version
			}
		}
	}
	out := fmt.Sprintf("netpolgen %s", version)
	if revision != "" {
		out += fmt.Sprintf(" (%.12s)", revision)
	}
	return out + fmt.Sprintf(", %s, Hubble API from cilium %s", runtime.Version(), cilium)
}
