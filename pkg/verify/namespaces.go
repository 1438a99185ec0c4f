package verify

import (
	"github.com/netpolgen/netpolgen/pkg/synth"
)

// namespaceSelection knows which namespaces a NetworkPolicy cannot
// select, because their pods' identities show no namespace label that
// singles them out (synth.NamespaceSelections, as the renderer decides).
type namespaceSelection map[string]synth.NamespaceSelection

func newNamespaceSelection(g *synth.Graph) namespaceSelection {
	return namespaceSelection(synth.NamespaceSelections(g.Workloads))
}

// unselectable says why a NetworkPolicy cannot allow a connection between
// workloads of two namespaces, or "" when nothing stands in its way: the
// source's egress rule must select the destination's namespace and the
// destination's ingress rule the source's.
func (s namespaceSelection) unselectable(e synth.Edge) string {
	if e.From.Kind != synth.PeerWorkload || e.To.Kind != synth.PeerWorkload || e.From.Workload.Namespace == e.To.Workload.Namespace {
		return ""
	}
	for _, ns := range []string{e.To.Workload.Namespace, e.From.Workload.Namespace} {
		if sel, ok := s[ns]; ok && sel.Labels == nil {
			return sel.Note
		}
	}
	return ""
}
