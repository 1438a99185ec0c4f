package diff

import (
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/netpolgen/netpolgen/pkg/synth"
	"github.com/netpolgen/netpolgen/pkg/verify"
)

// Connection is one observed connection whose verdict changes.
type Connection struct {
	From string `json:"from"`
	To   string `json:"to"`
	Port string `json:"port"`
	// Side says whose policy denies it: "egress" (From's), "ingress"
	// (To's) or "both"; after applying for a newly denied connection,
	// now for a newly allowed one.
	Side string `json:"side"`
	// Reason, when set, says why a NetworkPolicy cannot allow it (a
	// namespace its identities give no label to select by).
	Reason string `json:"reason,omitempty"`
}

func (c Connection) String() string { return fmt.Sprintf("%s -> %s %s", c.From, c.To, c.Port) }

// SemanticResult compares the verdicts of the observed connections.
type SemanticResult struct {
	// Observed counts the connections checked.
	Observed int `json:"observed"`
	// NewlyDenied would break: allowed now, denied once applied.
	NewlyDenied []Connection `json:"newly_denied"`
	// NewlyAllowed are denied now and allowed once applied.
	NewlyAllowed []Connection `json:"newly_allowed"`
	// UnchangedAllowed and UnchangedDenied keep their verdict.
	UnchangedAllowed int `json:"unchanged_allowed"`
	UnchangedDenied  int `json:"unchanged_denied"`
	// Unchecked are connections no rule names (ICMP errors, port-less
	// protocols), which the engine cannot look up.
	Unchecked int      `json:"unchecked,omitempty"`
	Notes     []string `json:"notes,omitempty"`
}

// Changed reports whether any verdict changes.
func (r *SemanticResult) Changed() bool { return len(r.NewlyDenied)+len(r.NewlyAllowed) > 0 }

// Semantic looks up every observed connection of g in Cilium's policy
// engine (as verify does) under the current policies and under the
// current policies with the proposed ones applied on top: an object with
// the same kind, namespace and name is replaced, others are added, none
// is removed.
func Semantic(g *synth.Graph, current, proposed []*unstructured.Unstructured) (*SemanticResult, error) {
	res := &SemanticResult{}
	// A policy in force that the engine cannot read is left out of both
	// sides, with a note, rather than failing the whole diff; a proposed
	// one it cannot read is an error.
	unreadable := map[string]bool{}
	for _, o := range current {
		if err := engineReads(o); err != nil {
			unreadable[ObjectKey(o)] = true
			res.Notes = append(res.Notes, fmt.Sprintf("%s is in force but left out of the semantic diff: %v", ObjectKey(o), err))
		}
	}
	readable := func(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
		var out []*unstructured.Unstructured
		for _, o := range objs {
			if !unreadable[ObjectKey(o)] {
				out = append(out, o)
			}
		}
		return out
	}
	nowPolicies, err := toVerify(readable(current))
	if err != nil {
		return nil, fmt.Errorf("current policies: %w", err)
	}
	afterPolicies, err := toVerify(readable(Overlay(current, proposed)))
	if err != nil {
		return nil, fmt.Errorf("proposed policies: %w", err)
	}
	// Only the observed connections matter here, so the excess sweep
	// over never-observed ones is turned off.
	opts := verify.Options{Subjects: func(synth.WorkloadRef) bool { return false }}
	now, err := verify.Verify(g, nowPolicies, opts)
	if err != nil {
		return nil, fmt.Errorf("verdicts under the current policies: %w", err)
	}
	then, err := verify.Verify(g, afterPolicies, opts)
	if err != nil {
		return nil, fmt.Errorf("verdicts under the proposed policies: %w", err)
	}
	deniedNow, deniedThen := deniedSet(now), deniedSet(then)
	for k, f := range deniedThen {
		if _, was := deniedNow[k]; !was {
			res.NewlyDenied = append(res.NewlyDenied, connection(f))
		}
	}
	for k, f := range deniedNow {
		if _, still := deniedThen[k]; !still {
			res.NewlyAllowed = append(res.NewlyAllowed, connection(f))
		}
	}
	sortConnections(res.NewlyDenied)
	sortConnections(res.NewlyAllowed)
	res.Observed = now.Observed
	res.UnchangedDenied = len(deniedNow) - len(res.NewlyAllowed)
	res.UnchangedAllowed = res.Observed - res.UnchangedDenied - len(res.NewlyDenied) - len(res.NewlyAllowed)
	res.Unchecked = now.Unchecked
	if now.IdentityNote != "" {
		res.Notes = append(res.Notes, now.IdentityNote)
	}
	return res, nil
}

// Overlay is the set of objects in force after applying proposed on top
// of current.
func Overlay(current, proposed []*unstructured.Unstructured) []*unstructured.Unstructured {
	replaced := map[string]bool{}
	for _, p := range proposed {
		replaced[ObjectKey(p)] = true
	}
	var out []*unstructured.Unstructured
	for _, c := range current {
		if !replaced[ObjectKey(c)] {
			out = append(out, c)
		}
	}
	return append(out, proposed...)
}

// toVerify hands policies to the verification engine.
func toVerify(objs []*unstructured.Unstructured) (*verify.Policies, error) {
	ps := &verify.Policies{}
	for _, o := range objs {
		data, err := yaml.Marshal(policyOnly(o))
		if err != nil {
			return nil, err
		}
		if err := ps.Add(ObjectKey(o), data); err != nil {
			return nil, err
		}
	}
	return ps, nil
}

// engineReads reports why the policy engine cannot take a policy, by
// loading it alone.
func engineReads(o *unstructured.Unstructured) error {
	ps, err := toVerify([]*unstructured.Unstructured{o})
	if err != nil {
		return err
	}
	_, err = verify.Verify(&synth.Graph{}, ps, verify.Options{})
	return err
}

func deniedSet(r *verify.Result) map[synth.ConnKey]verify.Finding {
	out := map[synth.ConnKey]verify.Finding{}
	for _, list := range [][]verify.Finding{r.Denied, r.Inexpressible} {
		for _, f := range list {
			out[synth.ConnKey{From: f.From, To: f.To, Port: f.Port}] = f
		}
	}
	return out
}

func connection(f verify.Finding) Connection {
	return Connection{From: f.From.String(), To: f.To.String(), Port: f.Port.String(), Side: f.Side, Reason: f.Reason}
}

func sortConnections(cs []Connection) {
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].From != cs[j].From {
			return cs[i].From < cs[j].From
		}
		if cs[i].To != cs[j].To {
			return cs[i].To < cs[j].To
		}
		return cs[i].Port < cs[j].Port
	})
}

// policyOnly keeps what decides verdicts (name, namespace, labels and
// spec/specs), since live objects carry metadata the engine's strict
// parsing does not know. A CiliumClusterwideNetworkPolicy becomes a
// CiliumNetworkPolicy without a namespace, which is how Cilium itself
// parses one.
func policyOnly(o *unstructured.Unstructured) map[string]any {
	meta := map[string]any{"name": o.GetName()}
	if ns := o.GetNamespace(); ns != "" {
		meta["namespace"] = ns
	}
	if l := o.GetLabels(); len(l) > 0 {
		meta["labels"] = l
	}
	kind := o.GetKind()
	if kind == "CiliumClusterwideNetworkPolicy" {
		kind = "CiliumNetworkPolicy"
	}
	out := map[string]any{"apiVersion": o.GetAPIVersion(), "kind": kind, "metadata": meta}
	for _, f := range []string{"spec", "specs"} {
		if v, ok := o.Object[f]; ok {
			out[f] = v
		}
	}
	return out
}
