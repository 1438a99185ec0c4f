package drift

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/netpolgen/netpolgen/pkg/graph"
	"github.com/netpolgen/netpolgen/pkg/synth"
	"github.com/netpolgen/netpolgen/pkg/verify"
)

// classifyInput is one evaluation's view of the world.
type classifyInput struct {
	graph    *graph.Graph
	policies *verify.Policies
	// now is the latest flow time seen.
	now        time.Time
	staleAfter time.Duration
	// firstKnown is the rule history; classify adds rules it has not
	// seen and forgets rules that are gone.
	firstKnown map[string]time.Time
	// skipUnprotected names namespaces never reported as unprotected.
	skipUnprotected func(namespace string) bool
}

// classified is what one evaluation found.
type classified struct {
	findings []Finding
	// checked counts the connections looked up; inexpressible lists
	// denied ones a NetworkPolicy cannot name a peer of, left out as
	// verify leaves them out.
	checked       int
	rules         int
	inexpressible []string
	// identityNote says which workloads were checked with identities
	// made from their selectors (a state saved before label sets were
	// recorded).
	identityNote string
}

// classify runs the graph through Cilium's engine and sorts what it says
// into findings.
func classify(in classifyInput) (*classified, error) {
	out := &classified{}
	if in.graph == nil {
		return out, nil
	}
	sg := synth.FromGraph(in.graph.WithAttempted())
	checked, err := verify.Check(sg, in.policies, verify.Options{})
	if err != nil {
		return nil, err
	}
	out.checked, out.rules, out.identityNote = len(checked.Connections), len(checked.Rules), checked.IdentityNote
	for _, c := range checked.Connections {
		if c.Allowed {
			continue
		}
		if c.Inexpressible {
			out.inexpressible = append(out.inexpressible, fmt.Sprintf("%s -> %s %s", c.Edge.From, c.Edge.To, c.Edge.Key().Port))
			continue
		}
		f, err := uncovered(sg, in.policies, c)
		if err != nil {
			return nil, err
		}
		out.findings = append(out.findings, f)
	}
	out.findings = append(out.findings, stale(checked, in)...)
	out.findings = append(out.findings, unprotected(checked, in.skipUnprotected)...)
	sort.Slice(out.findings, func(i, j int) bool { return out.findings[i].Key < out.findings[j].Key })
	return out, nil
}

func uncovered(sg *synth.Graph, ps *verify.Policies, c verify.Connection) (Finding, error) {
	e := c.Edge
	subject := e.To
	if c.Side == "egress" {
		subject = e.From
	}
	ns := subject.Workload.Namespace
	if subject.Kind != synth.PeerWorkload {
		ns = e.From.Workload.Namespace
	}
	port := synth.PortKey{Protocol: e.Protocol, Port: e.Port}
	droppedOnly := e.Flows > 0 && e.Dropped == e.Flows
	what := "seen"
	if e.Dropped > 0 {
		what = "dropped"
	}
	f := Finding{
		Kind: KindUncovered, Key: fmt.Sprintf("uncovered/%s>%s/%s", e.From, e.To, port), Namespace: ns,
		Summary: fmt.Sprintf("%s -> %s on %s %s and denied by %s policy", e.From, e.To, port, what, sideWords(c.Side)) + reasonSuffix(c.Reason),
		Connection: &ConnectionInfo{From: e.From.String(), To: e.To.String(), Port: port.String(), Side: c.Side,
			Flows: e.Flows, Dropped: e.Dropped, DroppedOnly: droppedOnly, FirstSeen: e.First, LastSeen: e.Last},
	}
	patch, note, err := suggestPatch(sg, c, formatFor(ps, ns))
	if err != nil {
		return Finding{}, fmt.Errorf("drift: patch for %s: %w", f.Key, err)
	}
	f.Patch, f.PatchNote = patch, note
	return f, nil
}

// reasonSuffix adds why a NetworkPolicy cannot allow the connection.
func reasonSuffix(reason string) string {
	if reason == "" {
		return ""
	}
	return ": " + reason
}

func sideWords(side string) string {
	switch side {
	case "egress":
		return "the source's egress"
	case "ingress":
		return "the destination's ingress"
	}
	return "both the source's egress and the destination's ingress"
}

// ruleKey names a rule by where it is and what it says, so an edited rule
// is a new rule with its own history.
func ruleKey(r verify.PolicyRule) string {
	return strings.Join([]string{r.Kind, r.Namespace, r.Name, r.Direction(), fmt.Sprint(r.Index), r.Peers, r.Ports}, "|")
}

// stale finds rules whose allowed traffic was last seen StaleAfter ago or
// more, in flow time; a rule never exercised counts from when drift first
// checked against it.
func stale(checked *verify.Checked, in classifyInput) []Finding {
	lastUse := make([]time.Time, len(checked.Rules))
	for _, c := range checked.Connections {
		if !c.Allowed {
			continue
		}
		for _, ids := range [][]int{c.EgressRules, c.IngressRules} {
			for _, id := range ids {
				if c.Edge.Last.After(lastUse[id]) {
					lastUse[id] = c.Edge.Last
				}
			}
		}
	}
	present := map[string]bool{}
	var out []Finding
	for _, r := range checked.Rules {
		key := ruleKey(r)
		present[key] = true
		first, ok := in.firstKnown[key]
		if !ok && !in.now.IsZero() {
			first = in.now
			in.firstKnown[key] = first
		}
		ref := lastUse[r.ID]
		if ref.IsZero() {
			ref = first
		}
		if ref.IsZero() || in.now.Sub(ref) < in.staleAfter {
			continue
		}
		info := &RuleInfo{PolicyKind: r.Kind, Namespace: r.Namespace, Name: r.Name, Direction: r.Direction(), Index: r.Index,
			Peers: r.Peers, Ports: r.Ports, LastExercised: lastUse[r.ID], Since: first}
		when := "never exercised since " + stamp(first)
		if !info.LastExercised.IsZero() {
			when = "last exercised " + stamp(info.LastExercised)
		}
		out = append(out, Finding{Kind: KindStale, Key: "stale/" + key, Namespace: r.Namespace, Rule: info,
			Summary: fmt.Sprintf("%s %s/%s %s rule %d (%s on %s): %s", r.Kind, r.Namespace, r.Name, r.Direction(), r.Index, r.Peers, r.Ports, when)})
	}
	for key := range in.firstKnown {
		if !present[key] {
			delete(in.firstKnown, key)
		}
	}
	return out
}

// unprotected finds workloads no policy selects; a namespace where no
// workload with traffic is selected is one finding listing them.
func unprotected(checked *verify.Checked, skip func(string) bool) []Finding {
	total := map[string]int{}
	bare := map[string][]string{}
	for ref, sel := range checked.Selected {
		if skip != nil && skip(ref.Namespace) {
			continue
		}
		total[ref.Namespace]++
		if !sel.Ingress && !sel.Egress {
			bare[ref.Namespace] = append(bare[ref.Namespace], ref.String())
		}
	}
	var out []Finding
	for ns, refs := range bare {
		sort.Strings(refs)
		if len(refs) == total[ns] {
			out = append(out, Finding{Kind: KindUnprotected, Key: "unprotected/namespace/" + ns, Namespace: ns, Workloads: refs,
				Summary: fmt.Sprintf("namespace %s: no policy selects any of its %d workloads with traffic", ns, len(refs))})
			continue
		}
		for _, r := range refs {
			out = append(out, Finding{Kind: KindUnprotected, Key: "unprotected/workload/" + r, Namespace: ns, Workloads: []string{r},
				Summary: fmt.Sprintf("workload %s has traffic but no policy selects it", r)})
		}
	}
	return out
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
