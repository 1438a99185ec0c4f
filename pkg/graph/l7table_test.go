package graph

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	flowpb "github.com/cilium/cilium/api/v1/flow"

	"github.com/netpolgen/netpolgen/internal/flowgen"
	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/observe/capture"
)

// l7Graph learns the L7 scenario over d with the given seed.
func l7Graph(t *testing.T, seed uint64, d time.Duration) (*Graph, *flowgen.Truth) {
	t.Helper()
	var buf bytes.Buffer
	truth, err := flowgen.Generate(flowgen.L7(), flowgen.Options{Seed: seed, Duration: d}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	g, err := Build(context.Background(), capture.NewSource([]string{"-"}, capture.Options{Strict: true, Stdin: &buf}), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return g, truth
}

// l7Edge finds the edge from workload "from" to workload "to" on port.
func l7Edge(t *testing.T, g *Graph, from, to string, port uint16) *Edge {
	t.Helper()
	for i := range g.Edges {
		e := &g.Edges[i]
		if g.Peers[e.From].Name == from && g.Peers[e.To].Name == to && e.Port == port && !e.Mirror {
			return e
		}
	}
	t.Fatalf("no edge %s -> %s:%d", from, to, port)
	return nil
}

func TestL7TablesMatchTheScenario(t *testing.T) {
	g, truth := l7Graph(t, 3, 2*time.Hour)
	for _, peer := range []string{"users", "orders", "cart"} {
		port := uint16(8080)
		if peer == "cart" {
			port = 7070
		}
		e := l7Edge(t, g, "gateway", peer, port)
		if e.L7 == nil || e.L7.Routes == nil {
			t.Fatalf("gateway -> %s: no route table", peer)
		}
		var got, want []string
		for _, r := range e.L7.Routes.Routes() {
			got = append(got, r.Method+" "+strings.TrimSuffix(r.Template, "?…")+fmt.Sprint(strings.HasSuffix(r.Template, "?…"), r.GRPC))
		}
		for _, r := range truth.L7.HTTP {
			if r.To.Name == peer {
				want = append(want, r.Method+" "+r.Template+fmt.Sprint(r.Query, r.GRPC))
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("gateway -> %s routes:\n got %q\nwant %q", peer, got, want)
		}
	}
	kafka := l7Edge(t, g, "inventory", "kafka", 9092)
	if fmt.Sprint(kafka.L7.Kafka) != "[{consume orders} {produce stock-events}]" {
		t.Errorf("inventory's Kafka use %v", kafka.L7.Kafka)
	}
	dns := l7Edge(t, g, "orders", "kube-dns", 53)
	for _, nt := range truth.L7.DNS {
		if nt.Workload.Name != "orders" {
			continue
		}
		for _, n := range nt.Names {
			if _, found := slices.BinarySearch(dns.L7.Lookups, n); !found {
				t.Errorf("orders looked up %s; the edge has %v", n, dns.L7.Lookups)
			}
		}
	}
	if redis := l7Edge(t, g, "orders", "redis", 6379); redis.L7 != nil {
		t.Errorf("orders -> redis has L7 %+v without records", redis.L7)
	}
}

func TestL7SurvivesSnapshotAndMerge(t *testing.T) {
	a, _ := l7Graph(t, 1, 20*time.Minute)
	b, _ := l7Graph(t, 2, 20*time.Minute)
	ab, err := Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	ba, err := Merge(b, a)
	if err != nil {
		t.Fatal(err)
	}
	if x, y := snapshotBytes(t, ab), snapshotBytes(t, ba); !bytes.Equal(x, y) {
		t.Error("Merge(a, b) and Merge(b, a) differ")
	}
	before := snapshotBytes(t, a)
	loaded, err := Load(bytes.NewReader(before), "a.graph.json")
	if err != nil {
		t.Fatal(err)
	}
	if after := snapshotBytes(t, loaded); !bytes.Equal(before, after) {
		t.Error("L7 tables changed on a snapshot round trip")
	}
	if !bytes.Contains(before, []byte(`"routes"`)) || !bytes.Contains(before, []byte(`"lookups"`)) || !bytes.Contains(before, []byte(`"kafka"`)) {
		t.Error("snapshot holds no L7 tables")
	}
	// Merging did not change its inputs.
	if !bytes.Equal(before, snapshotBytes(t, a)) {
		t.Error("Merge changed its input")
	}
	e := l7Edge(t, ab, "gateway", "users", 8080)
	ea, eb := l7Edge(t, a, "gateway", "users", 8080), l7Edge(t, b, "gateway", "users", 8080)
	if e.L7.Routes.Requests() != ea.L7.Routes.Requests()+eb.L7.Routes.Requests() {
		t.Errorf("merged requests %d", e.L7.Routes.Requests())
	}
}

// A snapshot written before L7 tables (version 2) still loads.
func TestOldSnapshotLoadsWithoutL7(t *testing.T) {
	g := buildFrom(t, Options{}, toServerSYN(40001))
	old := strings.Replace(string(snapshotBytes(t, g)), fmt.Sprintf(`"version": %d`, SnapshotVersion), `"version": 2`, 1)
	if _, err := Load(strings.NewReader(old), "old.graph.json"); err != nil {
		t.Fatal(err)
	}
}

func httpSpec(method, url string, verdict flowpb.Verdict) flowSpec {
	s := toServer(8080, observe.ProtoTCP)
	s.l7 = &observe.L7{Type: flowpb.L7FlowType_REQUEST, HTTP: &observe.HTTP{Method: method, URL: url, Protocol: "HTTP/1.1"}}
	s.verdict = verdict
	return s
}

func TestMalformedAndDeniedRequestsMakeNoRoutes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "flows.json")
	lines := []string{
		`{"flow":{"time":"2026-01-05T08:00:00Z","verdict":"FORWARDED","Type":"L7","source":{"namespace":"shop","labels":["k8s:app=web","k8s:io.kubernetes.pod.namespace=shop"],"pod_name":"web-1"},"destination":{"namespace":"shop","labels":["k8s:app=api","k8s:io.kubernetes.pod.namespace=shop"],"pod_name":"api-1"},"l4":{"TCP":{"source_port":40000,"destination_port":8080}},"l7":{"type":"REQUEST","http":{"method":"GET","url":"http://api/items/1"}}}}`,
		`{"flow":{"time":"2026-01-05T08:00:01Z","verdict":"FORWARDED","Type":"L7","source":{"namespace":"shop","labels":["k8s:app=web","k8s:io.kubernetes.pod.namespace=shop"],"pod_name":"web-1"},"destination":{"namespace":"shop","labels":["k8s:app=api","k8s:io.kubernetes.pod.namespace=shop"],"pod_name":"api-1"},"l4":{"TCP":{"source_port":40000,"destination_port":8080}},"l7":{"type":"REQUEST","http":{"method":"GE T","url":"http://api/x"}}}}`,
		`{"flow":{"time":"2026-01-05T08:00:02Z","verdict":"FORWARDED","Type":"L7","source":{"namespace":"shop","labels":["k8s:app=web","k8s:io.kubernetes.pod.namespace=shop"],"pod_name":"web-1"},"destination":{"namespace":"shop","labels":["k8s:app=api","k8s:io.kubernetes.pod.namespace=shop"],"pod_name":"api-1"},"l4":{"TCP":{"source_port":40000,"destination_port":8080}},"l7":{"type":"REQUEST","http":{"method":"GET","url":"http://api/a b"}}}}`,
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	g := buildFile(t, Options{}, path)
	if g.Coverage.MalformedL7 != 2 || len(g.Coverage.MalformedL7Notes) != 2 {
		t.Fatalf("coverage %d %q", g.Coverage.MalformedL7, g.Coverage.MalformedL7Notes)
	}
	for i, n := range g.Coverage.MalformedL7Notes {
		if !strings.HasPrefix(n, fmt.Sprintf("%s:%d: malformed", path, i+2)) {
			t.Errorf("note %q does not name %s:%d", n, path, i+2)
		}
	}
	var e *Edge
	for i := range g.Edges {
		if g.Edges[i].L7 != nil {
			e = &g.Edges[i]
		}
	}
	if e == nil || e.L7.Malformed != 2 || len(e.L7.Routes.Routes()) != 1 || e.L7.Routes.Routes()[0].Path != `/items/[^/]+` {
		t.Fatalf("edge L7 %+v", e)
	}

	denied := buildFrom(t, Options{}, httpSpec("GET", "http://api/ok", flowpb.Verdict_FORWARDED), httpSpec("DELETE", "http://api/ok", flowpb.Verdict_DROPPED))
	for _, e := range denied.Edges {
		if e.L7 == nil {
			continue
		}
		if rs := e.L7.Routes.Routes(); len(rs) != 1 || rs[0].Method != "GET" || e.L7.Denied != 1 {
			t.Errorf("routes %v, denied %d: a denied request became a route", rs, e.L7.Denied)
		}
	}
}
