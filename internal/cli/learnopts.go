package cli

import (
	"log/slog"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/netpolgen/netpolgen/internal/learnopts"
	"github.com/netpolgen/netpolgen/pkg/graph"
	"github.com/netpolgen/netpolgen/pkg/synth"
)

// learnOptionsFile records, beside the policies, the identity options the
// graph was built with (its own, defaults filled in, so a later default
// does not change their meaning) and the selection options synthesis used.
func learnOptionsFile(g graph.Options, s synth.Options) synth.File {
	o := learnopts.Options{
		SelectorLabels: g.SelectorLabels, IgnoreLabels: g.IgnoreLabels, KeepLabels: g.KeepLabels,
		CIDRPrefixV4: g.CIDRPrefixV4, CIDRPrefixV6: g.CIDRPrefixV6,
		Format: string(s.Format), DNSSelector: dnsSelectorString(s.DNS),
		Namespaces: s.Namespaces, ExcludeNamespaces: s.ExcludeNamespaces,
	}
	for _, p := range g.ClusterCIDRs {
		o.ClusterCIDRs = append(o.ClusterCIDRs, p.String())
	}
	return synth.File{Path: learnopts.FileName, Data: learnopts.Marshal(o)}
}

// dnsSelectorString writes a DNS selector as --dns-selector takes it.
func dnsSelectorString(d synth.DNSSelector) string {
	if d.Namespace == "" {
		return ""
	}
	kv := make([]string, 0, len(d.Labels))
	for k, v := range d.Labels {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return d.Namespace + "/" + strings.Join(kv, ",")
}

// useLearnOptions reads the options file learn wrote in a policy
// directory and takes from it every identity option not given on the
// command line: the policies are judged by the rules they were learned
// by, and a flag given explicitly still wins. It returns nil when the
// directory has no options file.
func (f *graphFlags) useLearnOptions(cmd *cobra.Command, log *slog.Logger, dir string) (*learnopts.Options, error) {
	o, err := learnopts.Read(dir)
	if err != nil || o == nil {
		return nil, err
	}
	changed := cmd.Flags().Changed
	take := func(flag string, apply func()) {
		if !changed(flag) {
			apply()
		}
	}
	take("selector-labels", func() { f.opts.SelectorLabels = o.SelectorLabels })
	take("ignore-labels", func() { f.opts.IgnoreLabels = o.IgnoreLabels })
	take("keep-labels", func() { f.opts.KeepLabels = o.KeepLabels })
	take("cidr-prefix-v4", func() { f.opts.CIDRPrefixV4 = o.CIDRPrefixV4 })
	take("cidr-prefix-v6", func() { f.opts.CIDRPrefixV6 = o.CIDRPrefixV6 })
	take("cluster-cidr", func() { f.clusterCIDRs = o.ClusterCIDRs })
	log.Info("using the identity options the policies were learned with; flags given here win", "file", filepath.Join(dir, learnopts.FileName))
	return o, nil
}
