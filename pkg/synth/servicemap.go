package synth

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
)

// writeServiceMap draws the observed connections as a Mermaid flowchart,
// which GitHub renders in a pull request.
func writeServiceMap(b *bytes.Buffer, g *Graph) {
	b.WriteString("\n## Service map\n\n```mermaid\nflowchart LR\n")
	ids := map[Peer]string{}
	var peers []Peer
	for _, e := range g.Edges {
		for _, p := range []Peer{e.From, e.To} {
			if _, ok := ids[p]; !ok {
				ids[p] = ""
				peers = append(peers, p)
			}
		}
	}
	sortPeers(peers)
	byNS := map[string][]Peer{}
	var namespaces []string
	for i, p := range peers {
		ids[p] = fmt.Sprintf("n%d", i)
		ns := ""
		if p.Kind == PeerWorkload {
			ns = p.Workload.Namespace
		}
		if _, ok := byNS[ns]; !ok {
			namespaces = append(namespaces, ns)
		}
		byNS[ns] = append(byNS[ns], p)
	}
	sort.Strings(namespaces)
	for _, ns := range namespaces {
		indent := "  "
		if ns != "" {
			fmt.Fprintf(b, "  subgraph %s\n", mermaidID(ns))
			indent = "    "
		}
		for _, p := range byNS[ns] {
			label := p.String()
			if p.Kind == PeerWorkload {
				label = p.Workload.Name
			}
			fmt.Fprintf(b, "%s%s[\"%s\"]\n", indent, ids[p], strings.ReplaceAll(label, "\"", "'"))
		}
		if ns != "" {
			b.WriteString("  end\n")
		}
	}
	type arrow struct{ from, to string }
	labels := map[arrow][]string{}
	var arrows []arrow
	for _, e := range g.Edges {
		a := arrow{ids[e.From], ids[e.To]}
		if _, ok := labels[a]; !ok {
			arrows = append(arrows, a)
		}
		labels[a] = append(labels[a], e.Key().Port.String())
	}
	for _, a := range arrows {
		fmt.Fprintf(b, "  %s -->|%s| %s\n", a.from, strings.Join(labels[a], ", "), a.to)
	}
	b.WriteString("```\n")
}

func mermaidID(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '.' || r == ' ' {
			return '_'
		}
		return r
	}, s)
}
