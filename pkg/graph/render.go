package graph

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	dgraph "github.com/dominikbraun/graph"
	"github.com/dominikbraun/graph/draw"
)

// serviceMap is the picture's view of a graph: one arrow per peer pair
// with the ports it carries, mirrors left out.
type serviceMap struct {
	nodes []mapNode
	links []mapLink
}

type mapNode struct {
	id        string
	label     string
	namespace string
	kind      PeerKind
}

type mapLink struct {
	from, to  string
	ports     []string
	uncertain bool
	dropped   bool // every flow was dropped
}

func (g *Graph) serviceMap() serviceMap {
	var m serviceMap
	used := make([]bool, len(g.Peers))
	type pair struct{ from, to PeerID }
	links := map[pair]*mapLink{}
	var order []pair
	for i := range g.Edges {
		e := &g.Edges[i]
		if e.Mirror {
			continue
		}
		used[e.From], used[e.To] = true, true
		k := pair{e.From, e.To}
		l, ok := links[k]
		if !ok {
			l = &mapLink{from: nodeID(e.From), to: nodeID(e.To), dropped: true}
			links[k] = l
			order = append(order, k)
		}
		port := PortString(e)
		if e.Uncertain {
			port += "?"
			l.uncertain = true
		}
		if !e.Allowed() {
			port += " (denied)"
		} else {
			l.dropped = false
		}
		l.ports = append(l.ports, port)
	}
	for i := range g.Peers {
		if used[i] {
			p := &g.Peers[i]
			m.nodes = append(m.nodes, mapNode{id: nodeID(PeerID(i)), label: g.nodeLabel(p), namespace: p.Namespace, kind: p.Kind})
		}
	}
	for _, k := range order {
		m.links = append(m.links, *links[k])
	}
	return m
}

func nodeID(id PeerID) string { return fmt.Sprintf("p%d", id) }

func (g *Graph) nodeLabel(p *Peer) string {
	switch p.Kind {
	case KindWorkload:
		return p.Name
	case KindExternal:
		label := p.CIDR.String()
		if len(p.DNSNames) > 0 {
			label += " " + p.DNSNames[0]
		}
		switch {
		case p.SeenAs != NoPeer:
			label += " (in-cluster IP, seen as " + g.Peers[p.SeenAs].String() + ")"
		case p.InClusterIP:
			label += " (in-cluster IP)"
		}
		return label
	}
	return p.String()
}

// quoteFree keeps a DOT attribute value inside its quotes.
func quoteFree(s string) string { return strings.ReplaceAll(s, `"`, `'`) }

// WriteDOT draws the service map in Graphviz DOT with the
// dominikbraun/graph draw package: namespaces are clusters, edges are
// labelled with their ports, uncertain ones dashed and dropped-only ones
// red. The statements are sorted so the output is stable.
func (g *Graph) WriteDOT(w io.Writer) error {
	m := g.serviceMap()
	dg := dgraph.New(dgraph.StringHash, dgraph.Directed())
	for _, n := range m.nodes {
		shape := "box"
		if n.kind != KindWorkload {
			shape = "ellipse"
		}
		if err := dg.AddVertex(n.id, dgraph.VertexAttribute("label", quoteFree(n.label)), dgraph.VertexAttribute("shape", shape)); err != nil {
			return fmt.Errorf("draw graph: %w", err)
		}
	}
	for _, l := range m.links {
		attrs := map[string]string{"label": quoteFree(strings.Join(l.ports, "\\n"))}
		if l.uncertain {
			attrs["style"] = "dashed"
		}
		if l.dropped {
			attrs["color"] = "red"
		}
		if err := dg.AddEdge(l.from, l.to, dgraph.EdgeAttributes(attrs)); err != nil {
			return fmt.Errorf("draw graph: %w", err)
		}
	}
	var buf bytes.Buffer
	if err := draw.DOT(dg, &buf, draw.GraphAttribute("rankdir", "LR")); err != nil {
		return fmt.Errorf("draw graph: %w", err)
	}
	_, err := io.WriteString(w, stableDOT(buf.String(), namespaceClusters(m.nodes)))
	return err
}

// stableDOT sorts the statements draw.DOT wrote in map order (vertices,
// then edges) and adds the namespace clusters before the closing brace.
func stableDOT(dot string, clusters []string) string {
	var head, vertices, edges []string
	for _, line := range strings.Split(dot, "\n") {
		t := strings.TrimSpace(line)
		switch {
		case t == "" || t == "}":
		case strings.HasPrefix(t, `"`) && strings.Contains(t, " -> "):
			edges = append(edges, t)
		case strings.HasPrefix(t, `"`):
			vertices = append(vertices, t)
		default:
			head = append(head, t)
		}
	}
	sort.Strings(vertices)
	sort.Strings(edges)
	var sb strings.Builder
	for i, l := range head {
		if i > 0 {
			sb.WriteString("\t")
		}
		sb.WriteString(l + "\n")
	}
	for _, group := range [][]string{vertices, edges, clusters} {
		for _, l := range group {
			sb.WriteString("\t" + l + "\n")
		}
	}
	sb.WriteString("}\n")
	return sb.String()
}

// namespaceClusters lists one DOT cluster per namespace naming its nodes.
func namespaceClusters(nodes []mapNode) []string {
	byNS := map[string][]string{}
	var names []string
	for _, n := range nodes {
		if n.namespace == "" {
			continue
		}
		if _, ok := byNS[n.namespace]; !ok {
			names = append(names, n.namespace)
		}
		byNS[n.namespace] = append(byNS[n.namespace], `"`+n.id+`";`)
	}
	sort.Strings(names)
	var out []string
	for _, ns := range names {
		out = append(out, fmt.Sprintf(`subgraph "cluster_%s" { label="%s"; %s }`, quoteFree(ns), quoteFree(ns), strings.Join(byNS[ns], " ")))
	}
	return out
}

// WriteMermaid draws the service map as a Mermaid flowchart, namespaces
// as subgraphs.
func (g *Graph) WriteMermaid(w io.Writer) error {
	m := g.serviceMap()
	var sb strings.Builder
	sb.WriteString("flowchart LR\n")
	byNS := map[string][]mapNode{}
	var names []string
	for _, n := range m.nodes {
		if _, ok := byNS[n.namespace]; !ok {
			names = append(names, n.namespace)
		}
		byNS[n.namespace] = append(byNS[n.namespace], n)
	}
	sort.Strings(names)
	for _, ns := range names {
		indent := "  "
		if ns != "" {
			fmt.Fprintf(&sb, "  subgraph ns_%s[\"%s\"]\n", mermaidID(ns), mermaidText(ns))
			indent = "    "
		}
		for _, n := range byNS[ns] {
			open, close := "[", "]"
			if n.kind != KindWorkload {
				open, close = "([", "])"
			}
			fmt.Fprintf(&sb, "%s%s%s\"%s\"%s\n", indent, n.id, open, mermaidText(n.label), close)
		}
		if ns != "" {
			sb.WriteString("  end\n")
		}
	}
	for _, l := range m.links {
		arrow := "-->"
		if l.uncertain {
			arrow = "-.->"
		}
		fmt.Fprintf(&sb, "  %s %s|\"%s\"| %s\n", l.from, arrow, mermaidText(strings.Join(l.ports, ", ")), l.to)
	}
	_, err := io.WriteString(w, sb.String())
	return err
}

func mermaidID(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, s)
}

func mermaidText(s string) string { return strings.ReplaceAll(s, `"`, "#quot;") }

// jsonMap is the JSON picture: peers and edges with readable fields.
type jsonMap struct {
	Nodes []jsonNode `json:"nodes"`
	Edges []jsonEdge `json:"edges"`
}

type jsonNode struct {
	ID          string            `json:"id"`
	Kind        string            `json:"kind"`
	Namespace   string            `json:"namespace,omitempty"`
	Name        string            `json:"name"`
	Labels      map[string]string `json:"labels,omitempty"`
	DNSNames    []string          `json:"dns_names,omitempty"`
	InClusterIP bool              `json:"in_cluster_ip,omitempty"`
}

type jsonEdge struct {
	From      string   `json:"from"`
	To        string   `json:"to"`
	Protocol  string   `json:"protocol"`
	Port      uint16   `json:"port,omitempty"`
	ICMPType  uint8    `json:"icmp_type,omitempty"`
	Flows     uint64   `json:"flows"`
	Verdicts  []string `json:"verdicts"`
	Allowed   bool     `json:"allowed"`
	Uncertain bool     `json:"uncertain,omitempty"`
	Mirror    bool     `json:"mirror,omitempty"`
	Services  []string `json:"services,omitempty"`
	HTTP      []string `json:"http,omitempty"`
	DNSNames  []string `json:"dns_names,omitempty"`
	// DNSQueries are names looked up over the edge.
	DNSQueries []string `json:"dns_queries,omitempty"`
}

// WriteJSON writes the service map as JSON: nodes by peer key and every
// edge with its evidence.
func (g *Graph) WriteJSON(w io.Writer) error {
	out := jsonMap{Nodes: []jsonNode{}, Edges: []jsonEdge{}}
	for i := range g.Peers {
		p := &g.Peers[i]
		out.Nodes = append(out.Nodes, jsonNode{ID: p.Key(), Kind: p.Kind.String(), Namespace: p.Namespace, Name: p.String(),
			Labels: p.Labels, DNSNames: p.DNSNames, InClusterIP: p.InClusterIP})
	}
	for i := range g.Edges {
		e := &g.Edges[i]
		out.Edges = append(out.Edges, jsonEdge{From: g.Peers[e.From].Key(), To: g.Peers[e.To].Key(), Protocol: e.Protocol.String(),
			Port: e.Port, ICMPType: e.ICMPType, Flows: e.Count, Verdicts: e.Verdicts.Names(), Allowed: e.Allowed(),
			Uncertain: e.Uncertain, Mirror: e.Mirror, Services: e.Services, HTTP: e.HTTP, DNSNames: e.DNSNames,
			DNSQueries: e.DNSQueries})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
