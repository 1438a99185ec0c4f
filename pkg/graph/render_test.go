package graph

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	"github.com/google/go-cmp/cmp"

	"github.com/netpolgen/netpolgen/pkg/observe"
)

// smallMap is frontend -> cart on 8080 and 9090, an uncertain UDP edge,
// a dropped-only edge to world, and a mirror that pictures leave out.
func smallMap(t *testing.T) *Graph {
	return buildFrom(t, Options{},
		toServerSYN(40001),
		with(toServerSYN(40002), func(s *flowSpec) { s.dstPort = 9090 }),
		flowSpec{src: client, dst: server, srcIP: clientIP, dstIP: serverIP, proto: observe.ProtoUDP, srcPort: 45000, dstPort: 8125},
		flowSpec{src: client, dst: reserved("world"), srcIP: clientIP, dstIP: "203.0.113.7", srcPort: 40003, dstPort: 443, flags: observe.FlagSYN, verdict: flowpb.Verdict_DROPPED},
		with(toServerSYN(40001), func(s *flowSpec) { s.src, s.srcIP = reserved("remote-node"), "10.128.0.9" }),
	)
}

func TestWriteDOT(t *testing.T) {
	var buf bytes.Buffer
	if err := smallMap(t).WriteDOT(&buf); err != nil {
		t.Fatal(err)
	}
	want := `strict digraph {
	rankdir="LR";
	"p0" [ label="203.0.113.7/32", shape="ellipse",  weight=0 ];
	"p2" [ label="cart", shape="box",  weight=0 ];
	"p3" [ label="frontend", shape="box",  weight=0 ];
	"p3" -> "p0" [ color="red", label="443/TCP (denied)",  weight=0 ];
	"p3" -> "p2" [ label="8080/TCP\n9090/TCP\n8125/UDP?", style="dashed",  weight=0 ];
	subgraph "cluster_shop" { label="shop"; "p2"; "p3"; }
}
`
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("DOT (-want +got):\n%s", diff)
	}
}

func TestWriteMermaid(t *testing.T) {
	var buf bytes.Buffer
	if err := smallMap(t).WriteMermaid(&buf); err != nil {
		t.Fatal(err)
	}
	want := `flowchart LR
  p0(["203.0.113.7/32"])
  subgraph ns_shop["shop"]
    p2["cart"]
    p3["frontend"]
  end
  p3 -->|"443/TCP (denied)"| p0
  p3 -.->|"8080/TCP, 9090/TCP, 8125/UDP?"| p2
`
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("Mermaid (-want +got):\n%s", diff)
	}
}

func TestWriteJSON(t *testing.T) {
	g := smallMap(t)
	var buf bytes.Buffer
	if err := g.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var got jsonMap
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Nodes) != len(g.Peers) || len(got.Edges) != len(g.Edges) {
		t.Fatalf("JSON has %d nodes and %d edges, want %d and %d", len(got.Nodes), len(got.Edges), len(g.Peers), len(g.Edges))
	}
	var lines []string
	for _, e := range got.Edges {
		flags := ""
		if !e.Allowed {
			flags += " dropped"
		}
		if e.Uncertain {
			flags += " uncertain"
		}
		if e.Mirror {
			flags += " mirror"
		}
		lines = append(lines, e.From+" -> "+e.To+" "+e.Protocol+flags)
	}
	want := []string{
		"reserved:remote-node -> workload:shop/app=cart TCP mirror",
		"workload:shop/app=frontend -> external:203.0.113.7/32 TCP dropped",
		"workload:shop/app=frontend -> workload:shop/app=cart TCP",
		"workload:shop/app=frontend -> workload:shop/app=cart TCP",
		"workload:shop/app=frontend -> workload:shop/app=cart UDP uncertain",
	}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("JSON edges (-want +got):\n%s", diff)
	}
}

func TestStableDOTSortsStatements(t *testing.T) {
	in := "strict digraph {\n\n\trankdir=\"LR\";\n\n\t\"b\" [ weight=0 ];\n\t\"a\" [ weight=0 ];\n\t\"b\" -> \"a\" [ weight=0 ];\n\t\"a\" -> \"b\" [ weight=0 ];\n}\n"
	got := stableDOT(in, []string{`subgraph "cluster_x" { label="x"; "a"; }`})
	want := "strict digraph {\n\trankdir=\"LR\";\n\t\"a\" [ weight=0 ];\n\t\"b\" [ weight=0 ];\n\t\"a\" -> \"b\" [ weight=0 ];\n\t\"b\" -> \"a\" [ weight=0 ];\n\tsubgraph \"cluster_x\" { label=\"x\"; \"a\"; }\n}\n"
	if got != want {
		t.Errorf("stableDOT:\n%s", cmp.Diff(want, got))
	}
	if strings.Count(got, "{") != 2 {
		t.Errorf("unbalanced output:\n%s", got)
	}
}
