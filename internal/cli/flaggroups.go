package cli

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// The flag groups of a command's help, in the order they are printed, as
// hubble prints its named flag sets: a user looks for "where do the flows
// come from", "who is who", "what is allowed", "where does it go".
const (
	groupInput    = "Input"
	groupHubble   = "Hubble connection and TLS"
	groupServe    = "Serving"
	groupIdentity = "Identity"
	groupPolicy   = "Policy"
	groupCluster  = "Cluster"
	groupOutput   = "Output"
	groupOther    = "Other"
)

func flagGroupOrder() []string {
	return []string{groupInput, groupHubble, groupServe, groupIdentity, groupPolicy, groupCluster, groupOutput, groupOther}
}

// flagGroup is the help group of a flag, by name: a flag means the same
// in every command that has it, so it sits in the same group everywhere.
func flagGroup(name string) string {
	switch name {
	case "from-file", "load", "state", "checkpoint", "duration", "since", "strict", "node-name",
		"policies", "against", "once", "interval", "stale-after":
		return groupInput
	case "server", "port-forward", "port-forward-port", "kube-namespace", "kube-context", "timeout",
		"tls", "tls-allow-insecure", "tls-ca-cert-files", "tls-client-cert-file", "tls-client-key-file", "tls-server-name":
		return groupHubble
	case "listen", "allow-remote", "tls-server-cert-file", "tls-server-key-file", "buffer-size", "loop", "rate":
		return groupServe
	case "selector-labels", "ignore-labels", "keep-labels", "cidr-prefix-v4", "cidr-prefix-v6", "cluster-cidr", "dns-selector":
		return groupIdentity
	case "namespace", "exclude-namespace", "include-namespace", "generalize", "public-endpoint", "no-public-endpoint",
		"l7", "l7-exact-dns", "l7-max-routes", "format", "http":
		return groupPolicy
	case "cluster", "kubeconfig", "context", "request-timeout":
		return groupCluster
	case "out", "output", "save", "quiet", "diff", "diff-against", "report-dir", "metrics-addr":
		return groupOutput
	}
	return groupOther
}

// groupFlagsInHelp makes cmd's help list its flags by group.
func groupFlagsInHelp(cmd *cobra.Command) {
	cmd.SetUsageFunc(func(c *cobra.Command) error {
		return writeGroupedUsage(c.OutOrStderr(), c)
	})
}

// writeGroupedUsage is cobra's usage for a command without subcommands,
// with the flags under their groups.
func writeGroupedUsage(w io.Writer, c *cobra.Command) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage:\n  %s", c.UseLine())
	if len(c.Aliases) > 0 {
		fmt.Fprintf(&b, "\n\nAliases:\n  %s", c.NameAndAliases())
	}
	if c.HasExample() {
		fmt.Fprintf(&b, "\n\nExamples:\n%s", c.Example)
	}
	groups := map[string]*pflag.FlagSet{}
	c.LocalFlags().VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		g := flagGroup(f.Name)
		if groups[g] == nil {
			groups[g] = pflag.NewFlagSet(g, pflag.ContinueOnError)
			groups[g].SortFlags = c.LocalFlags().SortFlags
		}
		groups[g].AddFlag(f)
	})
	for _, g := range flagGroupOrder() {
		if fs := groups[g]; fs != nil {
			fmt.Fprintf(&b, "\n\n%s flags:\n%s", g, strings.TrimRight(fs.FlagUsages(), " \n"))
		}
	}
	if c.HasAvailableInheritedFlags() {
		fmt.Fprintf(&b, "\n\nGlobal flags:\n%s", strings.TrimRight(c.InheritedFlags().FlagUsages(), " \n"))
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// oldNameAnnotation marks a flag kept under an old spelling; its value is
// the flag's name now.
const oldNameAnnotation = "netpolgen/old-name-of"

// oldName keeps a flag's old spelling working, out of help, saying the
// new one when used (see warnOldNames): one way to name a thing across
// commands without breaking a script written before.
func oldName(fs *pflag.FlagSet, old, now string) {
	_ = fs.SetAnnotation(old, oldNameAnnotation, []string{now})
	fs.Lookup(old).Hidden = true
}

// warnOldNames logs a warning for each old flag spelling cmd was given.
func warnOldNames(cmd *cobra.Command, log *slog.Logger) {
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if now := f.Annotations[oldNameAnnotation]; len(now) > 0 {
			log.Warn("--"+f.Name+" is an old name: use "+now[0], "flag", f.Name)
		}
	})
}
