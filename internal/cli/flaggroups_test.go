package cli

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// TestEveryFlagHasAHelpGroup keeps the help groups complete: a new flag
// must be placed, or it would land under "Other" below help itself.
func TestEveryFlagHasAHelpGroup(t *testing.T) {
	root := NewRootCommand(Streams{})
	for _, c := range root.Commands() {
		if c.Name() == "gen" || !c.HasFlags() {
			continue
		}
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Name != "help" && flagGroup(f.Name) == groupOther {
				t.Errorf("%s --%s has no help group: add it to flagGroup", c.Name(), f.Name)
			}
		})
	}
}

func TestLearnHelpShowsFlagsInGroups(t *testing.T) {
	code, out, stderr := run(t, "", "learn", "--help")
	if code != 0 {
		t.Fatalf("learn --help: exit %d: %s", code, stderr)
	}
	last := -1
	for _, heading := range []string{"Input flags:", "Hubble connection and TLS flags:", "Identity flags:",
		"Policy flags:", "Cluster flags:", "Output flags:"} {
		i := strings.Index(out, "\n"+heading+"\n")
		if i < 0 || i < last {
			t.Fatalf("learn --help: %q missing or out of order:\n%s", heading, out)
		}
		last = i
	}
	input := out[strings.Index(out, "Input flags:"):strings.Index(out, "Hubble connection and TLS flags:")]
	for _, flag := range []string{"--from-file", "--duration", "--state"} {
		if !strings.Contains(input, flag) {
			t.Errorf("learn --help: %s is not under Input flags:\n%s", flag, input)
		}
	}
	if strings.Contains(out, "\nFlags:\n") {
		t.Errorf("learn --help still has one ungrouped flag list:\n%s", out)
	}
}
