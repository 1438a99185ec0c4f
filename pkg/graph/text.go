package graph

import (
	"fmt"
	"io"
	"strings"
)

// EdgeString renders an edge in one line: "bookinfo/productpage ->
// bookinfo/details 9080/TCP".
func (g *Graph) EdgeString(e *Edge) string {
	return g.Peers[e.From].String() + " -> " + g.Peers[e.To].String() + " " + PortString(e)
}

// PortString renders an edge's port: "9080/TCP", "ICMPv4 type 8".
func PortString(e *Edge) string {
	if isICMP(e.Protocol) {
		return fmt.Sprintf("%s type %d", e.Protocol, e.ICMPType)
	}
	return fmt.Sprintf("%d/%s", e.Port, e.Protocol)
}

// WriteText writes one line per edge with its flags, for people and
// diffs.
func (g *Graph) WriteText(w io.Writer) error {
	var sb strings.Builder
	for i := range g.Edges {
		e := &g.Edges[i]
		sb.WriteString(g.EdgeString(e))
		fmt.Fprintf(&sb, " flows=%d verdicts=%s direction=%s", e.Count, e.Verdicts, e.Direction)
		if e.Uncertain {
			sb.WriteString(" uncertain")
		}
		if e.Mirror {
			sb.WriteString(" mirror-of=" + g.Peers[e.MirrorOf].String())
		}
		if !e.Allowed() {
			sb.WriteString(" not-allowed")
		}
		if p := &g.Peers[e.To]; p.InClusterIP {
			sb.WriteString(" to-in-cluster-ip:" + p.InClusterReason.String())
			if p.SeenAs != NoPeer {
				sb.WriteString("(seen-as " + g.Peers[p.SeenAs].String() + ")")
			}
		}
		if p := &g.Peers[e.From]; p.InClusterIP {
			sb.WriteString(" from-in-cluster-ip")
		}
		sb.WriteByte('\n')
	}
	_, err := io.WriteString(w, sb.String())
	return err
}
