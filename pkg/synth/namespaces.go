package synth

import (
	"fmt"
	"sort"
	"strings"
)

// Cilium puts a namespace's own labels on its pods' identities under
// this prefix; a NetworkPolicy namespaceSelector matches only those.
// kubernetes.io/metadata.name is set on every namespace from Kubernetes
// 1.21 on.
const ciliumNamespaceLabelPrefix = "k8s:io.cilium.k8s.namespace.labels."

// NamespaceSelection is how a NetworkPolicy namespaceSelector can select
// a namespace, judged by the identities its pods were seen with.
type NamespaceSelection struct {
	// Labels are the namespace labels to select it by; nil when none
	// of its pods' identities shows a label that can.
	Labels map[string]string
	// Observed says its pods' identity labels were seen. When they were
	// not (a graph saved before they were recorded, or a namespace only
	// named by --dns-selector), kubernetes.io/metadata.name is assumed.
	Observed bool
	// Note says why Labels is nil, or why a label other than
	// kubernetes.io/metadata.name selects it.
	Note string
}

// NamespaceSelections works out, for every namespace with workloads, the
// labels a namespaceSelector can select it by: kubernetes.io/metadata.name
// when every identity seen in it carries it; else another namespace label
// every identity in it carries and no other namespace seen shares; else
// none.
func NamespaceSelections(workloads []Workload) map[string]NamespaceSelection {
	sets := map[string][][]string{}
	var namespaces []string
	for _, w := range workloads {
		if _, ok := sets[w.Namespace]; !ok {
			namespaces = append(namespaces, w.Namespace)
			sets[w.Namespace] = nil
		}
		sets[w.Namespace] = append(sets[w.Namespace], w.Identities...)
	}
	sort.Strings(namespaces)
	// common are the namespace labels every identity of a namespace
	// carries; seen are all the namespace labels any identity carries.
	common := map[string]map[string]string{}
	seen := map[string]map[string]bool{}
	for _, ns := range namespaces {
		var c map[string]string
		for i, set := range sets[ns] {
			labels := namespaceLabels(set)
			for k, v := range labels {
				if seen[k+"="+v] == nil {
					seen[k+"="+v] = map[string]bool{}
				}
				seen[k+"="+v][ns] = true
			}
			if i == 0 {
				c = labels
				continue
			}
			for k, v := range c {
				if labels[k] != v {
					delete(c, k)
				}
			}
		}
		common[ns] = c
	}
	out := make(map[string]NamespaceSelection, len(namespaces))
	for _, ns := range namespaces {
		if len(sets[ns]) == 0 {
			out[ns] = NamespaceSelection{Labels: map[string]string{k8sNamespaceNameLabel: ns}}
			continue
		}
		c := common[ns]
		if c[k8sNamespaceNameLabel] == ns {
			out[ns] = NamespaceSelection{Labels: map[string]string{k8sNamespaceNameLabel: ns}, Observed: true}
			continue
		}
		keys := make([]string, 0, len(c))
		for k := range c {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		sel := NamespaceSelection{Observed: true}
		for _, k := range keys {
			if len(seen[k+"="+c[k]]) == 1 {
				sel.Labels = map[string]string{k: c[k]}
				sel.Note = fmt.Sprintf("namespace %s is selected by its label %s=%s: its pods' identities show no %s label, and no other namespace seen carries this one (one not seen might)", ns, k, c[k], k8sNamespaceNameLabel)
				break
			}
		}
		switch {
		case sel.Labels != nil:
		case len(c) == 0:
			sel.Note = fmt.Sprintf("NetworkPolicy cannot select namespace %s: its pods' identities carry no namespace labels (Cilium matches a namespaceSelector against io.cilium.k8s.namespace.labels.*; Kubernetes before 1.21 sets no %s); the CiliumNetworkPolicy format selects it by io.kubernetes.pod.namespace", ns, k8sNamespaceNameLabel)
		default:
			sel.Note = fmt.Sprintf("NetworkPolicy cannot select namespace %s: its pods' identities show no %s label and no other namespace label that singles it out; the CiliumNetworkPolicy format selects it by io.kubernetes.pod.namespace", ns, k8sNamespaceNameLabel)
		}
		out[ns] = sel
	}
	return out
}

// namespaceLabels are the namespace labels one identity label set shows.
func namespaceLabels(set []string) map[string]string {
	out := map[string]string{}
	for _, l := range set {
		if rest, ok := strings.CutPrefix(l, ciliumNamespaceLabelPrefix); ok {
			k, v, _ := strings.Cut(rest, "=")
			out[k] = v
		}
	}
	return out
}
