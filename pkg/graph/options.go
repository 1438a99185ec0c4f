package graph

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/netpolgen/netpolgen/internal/l7/routes"
)

// Options tunes how flows fold into a graph. The zero value uses the
// documented defaults.
type Options struct {
	// SelectorLabels replaces the preferred selector keys, in order of
	// preference (default: DefaultSelectorLabels).
	SelectorLabels []string `json:"selector_labels,omitempty"`
	// IgnoreLabels are dropped from identities in addition to
	// DefaultIgnoredLabels. A trailing "*" matches a key prefix.
	IgnoreLabels []string `json:"ignore_labels,omitempty"`
	// KeepLabels are never dropped and are added to the selector when a
	// pod carries them ("version" splits a workload by release).
	KeepLabels []string `json:"keep_labels,omitempty"`
	// CIDRPrefixV4 and CIDRPrefixV6 aggregate world addresses into
	// prefixes of this length (0 keeps single addresses).
	CIDRPrefixV4 int `json:"cidr_prefix_v4,omitempty"`
	CIDRPrefixV6 int `json:"cidr_prefix_v6,omitempty"`
	// ClusterCIDRs are pod (and service) ranges: a world address inside
	// them is flagged InClusterIP.
	ClusterCIDRs []netip.Prefix `json:"cluster_cidrs,omitempty"`
	// NodeNames, when set, keeps only flows observed on these nodes, for
	// learners sharded over Hubble Relay by node.
	NodeNames []string `json:"node_names,omitempty"`
	// MaxL7 caps the L7 evidence (HTTP requests, DNS names, services)
	// kept per edge (default 32).
	MaxL7 int `json:"max_l7,omitempty"`
	// MaxRoutes bounds each edge's HTTP route table; above it, routes
	// collapse to common prefixes (default routes.DefaultMaxRoutes).
	MaxRoutes int `json:"max_routes,omitempty"`
	// MaxPending caps the undirected (peer pair, ports) aggregates held
	// until Finish (default 16384); at the cap, the held ones are
	// resolved with the evidence seen so far, so results can then depend
	// on flow order.
	MaxPending int `json:"max_pending,omitempty"`
}

// DefaultSelectorLabels returns the label keys a selector prefers, in
// order.
func DefaultSelectorLabels() []string {
	return []string{"app.kubernetes.io/name", "app", "k8s-app", "name"}
}

// companionLabels join app.kubernetes.io/name in a selector when a pod has
// them: they separate workloads that share a name.
func companionLabels() []string {
	return []string{"app.kubernetes.io/instance", "app.kubernetes.io/component"}
}

// DefaultIgnoredLabels returns the label keys that change per pod, per
// rollout or per release, or that tools add for their own bookkeeping. A
// trailing "*" matches a prefix.
func DefaultIgnoredLabels() []string {
	return []string{
		"pod-template-hash",
		"rollouts-pod-template-hash",
		"controller-revision-hash",
		"pod-template-generation",
		"statefulset.kubernetes.io/pod-name",
		"apps.kubernetes.io/pod-index",
		"job-name",
		"controller-uid",
		"batch.kubernetes.io/*",
		"version",
		"app.kubernetes.io/version",
		"app.kubernetes.io/managed-by",
		"helm.sh/chart",
		"chart",
		"heritage",
		// Per deploy or pipeline run.
		"tags.datadoghq.com/version",
		"skaffold.dev/run-id",
		"tekton.dev/pipelineRun",
		"tekton.dev/pipelineRunUID",
		"tekton.dev/taskRun",
		"tekton.dev/taskRunUID",
		"workflows.argoproj.io/workflow",
		"sidecar.istio.io/*",
		"sidecar.opentelemetry.io/*",
		"security.istio.io/tlsMode",
		"service.istio.io/*",
		"istio.io/rev",
		"linkerd.io/*",
		"io.cilium.*",
		"io.kubernetes.pod.namespace",
	}
}

const (
	defaultMaxL7      = 32
	defaultMaxPending = 1 << 14
)

// normalized fills in defaults and sorts list options, so two Options that
// mean the same compare equal (Merge requires equal identity options).
func (o Options) normalized() Options {
	if len(o.SelectorLabels) == 0 {
		o.SelectorLabels = DefaultSelectorLabels()
	}
	if o.MaxL7 <= 0 {
		o.MaxL7 = defaultMaxL7
	}
	if o.MaxPending <= 0 {
		o.MaxPending = defaultMaxPending
	}
	if o.MaxRoutes <= 0 {
		o.MaxRoutes = routes.DefaultMaxRoutes
	}
	o.SelectorLabels = slices.Clone(o.SelectorLabels)
	o.IgnoreLabels = sortedUnique(o.IgnoreLabels)
	o.KeepLabels = sortedUnique(o.KeepLabels)
	o.NodeNames = sortedUnique(o.NodeNames)
	o.ClusterCIDRs = slices.Clone(o.ClusterCIDRs)
	slices.SortFunc(o.ClusterCIDRs, comparePrefix)
	o.ClusterCIDRs = slices.Compact(o.ClusterCIDRs)
	return o
}

// sameIdentityRules reports whether two option sets name peers the same
// way, which is what merging two graphs needs.
func (o Options) sameIdentityRules(p Options) bool {
	a, b := o.normalized(), p.normalized()
	return slices.Equal(a.SelectorLabels, b.SelectorLabels) &&
		slices.Equal(a.IgnoreLabels, b.IgnoreLabels) &&
		slices.Equal(a.KeepLabels, b.KeepLabels) &&
		a.CIDRPrefixV4 == b.CIDRPrefixV4 && a.CIDRPrefixV6 == b.CIDRPrefixV6
}

// labelRules decides which labels an identity keeps.
type labelRules struct {
	ignoreExact  map[string]bool
	ignorePrefix []string
	keep         map[string]bool
	keepOrder    []string
	selector     []string
}

func newLabelRules(o Options) labelRules {
	r := labelRules{ignoreExact: map[string]bool{}, keep: map[string]bool{}, selector: o.SelectorLabels}
	for _, k := range append(DefaultIgnoredLabels(), o.IgnoreLabels...) {
		if p, ok := strings.CutSuffix(k, "*"); ok {
			r.ignorePrefix = append(r.ignorePrefix, p)
		} else {
			r.ignoreExact[k] = true
		}
	}
	for _, k := range o.KeepLabels {
		r.keep[k] = true
		r.keepOrder = append(r.keepOrder, k)
	}
	return r
}

func (r *labelRules) ignored(key string) bool {
	if r.keep[key] {
		return false
	}
	if r.ignoreExact[key] {
		return true
	}
	for _, p := range r.ignorePrefix {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

func sortedUnique(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}
