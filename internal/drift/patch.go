package drift

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/cilium/cilium/pkg/policy/api"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/netpolgen/netpolgen/pkg/synth"
	"github.com/netpolgen/netpolgen/pkg/verify"
)

// DriftAnnotation on a suggested policy says which connection it allows.
const DriftAnnotation = "netpolgen.io/drift-allows"

// formatFor picks the policy kind the user generated for a namespace:
// what its policies already are, else what the whole set is.
func formatFor(ps *verify.Policies, namespace string) synth.Format {
	cilium, kubernetes := false, false
	for _, p := range ps.Cilium {
		cilium = cilium || p.Namespace == namespace
	}
	for _, p := range ps.Kubernetes {
		kubernetes = kubernetes || p.Namespace == namespace
	}
	switch {
	case cilium:
		return synth.FormatCilium
	case kubernetes:
		return synth.FormatKubernetes
	case len(ps.Cilium) > 0:
		return synth.FormatCilium
	}
	return synth.FormatKubernetes
}

// suggestPatch renders the smallest policy change that allows a denied
// connection: for each side that denies it, one policy for that side's
// workload holding the single missing rule, built by pkg/synth from a
// one-edge graph so it reads like the policies the user generated.
// Policies add up, so applying it as is, or folding its rule into the
// workload's own policy, both allow exactly this connection.
func suggestPatch(sg *synth.Graph, c verify.Connection, format synth.Format) (string, string, error) {
	var docs [][]byte
	var notes []string
	for _, ingress := range sidesOf(c.Side) {
		subject := c.Edge.From
		if ingress {
			subject = c.Edge.To
		}
		if subject.Kind != synth.PeerWorkload {
			notes = append(notes, fmt.Sprintf("the denying side is %s, which no workload policy governs", subject))
			continue
		}
		doc, note, err := sidePolicy(sg, c.Edge, subject.Workload, ingress, format)
		if err != nil {
			return "", "", err
		}
		if note != "" {
			notes = append(notes, note)
		}
		if doc != nil {
			docs = append(docs, doc)
		}
	}
	return string(bytes.Join(docs, []byte("---\n"))), strings.Join(notes, "; "), nil
}

func sidesOf(side string) []bool {
	switch side {
	case "egress":
		return []bool{false}
	case "ingress":
		return []bool{true}
	}
	return []bool{false, true}
}

// sidePolicy renders the one-rule policy of subject for one direction.
func sidePolicy(sg *synth.Graph, e synth.Edge, subject synth.WorkloadRef, ingress bool, format synth.Format) ([]byte, string, error) {
	mini := &synth.Graph{Edges: []synth.Edge{e}, NameIPs: sg.NameIPs, EntityIPs: sg.EntityIPs}
	for _, w := range sg.Workloads {
		if (e.From.Kind == synth.PeerWorkload && w.WorkloadRef == e.From.Workload) || (e.To.Kind == synth.PeerWorkload && w.WorkloadRef == e.To.Workload) {
			mini.Workloads = append(mini.Workloads, w)
		}
	}
	plan, err := synth.Build(mini, synth.Options{Format: format, Namespaces: []string{subject.Namespace}})
	if err != nil {
		return nil, "", err
	}
	var wp *synth.WorkloadPolicy
	for _, p := range plan.Policies {
		if p.Workload.WorkloadRef == subject {
			cp := *p
			wp = &cp
		}
	}
	if wp == nil {
		return nil, fmt.Sprintf("synthesis wrote no policy for %s", subject), nil
	}
	if ingress {
		wp.Egress = nil
	} else {
		wp.Ingress = nil
	}
	if len(wp.Ingress)+len(wp.Egress) == 0 {
		reason := "no rule can name the peer"
		for _, s := range plan.Skipped {
			reason = s.Reason
		}
		return nil, fmt.Sprintf("%s: %s", subject, reason), nil
	}
	name := patchName(subject.Name, e, ingress)
	allows := fmt.Sprintf("%s -> %s %s", e.From, e.To, e.Key().Port)
	if format.Cilium() {
		cnp, err := plan.CiliumPolicy(wp)
		if err != nil {
			return nil, "", err
		}
		cnp.Name = name
		cnp.Annotations = map[string]string{DriftAnnotation: allows}
		// Only the rule's own direction: enabling default-deny on the
		// other one would be a change of its own.
		cnp.Spec.EnableDefaultDeny = api.DefaultDenyConfig{}
		doc, err := synth.MarshalYAML(cnp)
		return doc, "", err
	}
	np, warnings, err := plan.KubernetesPolicy(wp)
	if err != nil {
		return nil, "", err
	}
	rules := len(np.Spec.Ingress) + len(np.Spec.Egress)
	if rules == 0 {
		return nil, strings.Join(warnings, "; "), nil
	}
	np.Name = name
	np.Annotations = map[string]string{DriftAnnotation: allows}
	np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
	if ingress {
		np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	}
	doc, err := synth.MarshalYAML(np)
	return doc, strings.Join(warnings, "; "), err
}

// patchName is stable for a connection and side, and a valid object name.
func patchName(workload string, e synth.Edge, ingress bool) string {
	h := fnv.New32a()
	fmt.Fprintf(h, "%s|%s|%d|%s|%t", e.From, e.To, e.Port, e.Protocol, ingress)
	suffix := fmt.Sprintf("-drift-%08x", h.Sum32())
	if max := 63 - len(suffix); len(workload) > max {
		workload = strings.TrimRight(workload[:max], "-.")
	}
	return workload + suffix
}
