package graph

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/netpolgen/netpolgen/internal/sharedflows"
	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/observe/capture"
)

func bookinfoPaths(t *testing.T) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(sharedflows.Dir(t), "bookinfo-kind", "basic-sample-400-*.json"))
	if err != nil || len(paths) != 4 {
		t.Fatalf("bookinfo captures: found %v (%v), want 4 files", paths, err)
	}
	return paths
}

// TestBookinfoEdges pins the edge set of the bookinfo capture (all four
// files, one node's view of a two-node kind cluster), worked out by hand:
//
//   - productpage calls details and reviews on 9080 (SYNs, L7 GETs
//     /details/0 and /reviews/0); reviews calls ratings on 9080 (L7 GET
//     /ratings/0); the test harness curls productpage from the ratings
//     pod (SYNs and GET /productpage from app=ratings), so ratings ->
//     productpage 9080 is real traffic.
//   - productpage and ratings query kube-dns on 53/UDP (DNS L7 requests,
//     is_reply false), and Cilium's DNS proxy forwards them from the node
//     (remote-node 10.244.0.148 -> kube-dns:53, flows with no is_reply:
//     inferred from kube-dns:53 receiving requests elsewhere).
//   - The L7 proxy's flows to pods on the other node show those pods as
//     reserved:world with their pod IP (10.244.1.193 details, .18 reviews
//     v3, .109 reviews v1): kept as edges to in-cluster IPs, flagged and
//     resolved (SeenAs), never plain world /32s.
//   - The OpenTelemetry collector sends to jaeger's collector on 14250
//     and reads Hubble on the node (host:4244); the node probes jaeger's
//     admin port 14269.
//   - Mirrors, left out of PolicyEdges: the proxy's copies of ratings ->
//     productpage and productpage -> reviews seen from host, and reviews
//     (other node) -> ratings seen from remote-node.
//   - Every reply to an ephemeral port (SYN-ACKs, is_reply true, DNS
//     answers from :53) folds into its request's edge; health checks
//     (reserved:health, ICMP and 4240) are skipped.
func TestBookinfoEdges(t *testing.T) {
	g := buildFile(t, Options{}, bookinfoPaths(t)...)
	want := []string{
		"host -> jaeger/jaeger-default 14269/TCP",
		"remote-node -> kube-system/kube-dns 53/UDP",
		"bookinfo/productpage -> 10.244.1.109/32 9080/TCP",
		"bookinfo/productpage -> 10.244.1.18/32 9080/TCP",
		"bookinfo/productpage -> 10.244.1.193/32 9080/TCP",
		"bookinfo/productpage -> bookinfo/details 9080/TCP",
		"bookinfo/productpage -> bookinfo/reviews 9080/TCP",
		"bookinfo/productpage -> kube-system/kube-dns 53/UDP",
		"bookinfo/ratings -> bookinfo/productpage 9080/TCP",
		"bookinfo/ratings -> kube-system/kube-dns 53/UDP",
		"bookinfo/reviews -> bookinfo/ratings 9080/TCP",
		"kube-system/otelcol-hubble-collector -> host 4244/TCP",
		"kube-system/otelcol-hubble-collector -> jaeger/jaeger-default 14250/TCP",
	}
	if diff := cmp.Diff(want, edgeLines(g, g.PolicyEdges())); diff != "" {
		t.Errorf("policy edges (-want +got):\n%s", diff)
	}
	var mirrors []string
	for i := range g.Edges {
		e := &g.Edges[i]
		if e.Mirror {
			mirrors = append(mirrors, g.EdgeString(e)+" of "+g.Peers[e.MirrorOf].String())
		}
		if e.Port >= 32768 {
			t.Errorf("edge to an ephemeral port: %s", g.EdgeString(e))
		}
		if e.Uncertain {
			t.Errorf("uncertain edge: %s", g.EdgeString(e))
		}
	}
	wantMirrors := []string{
		"host -> bookinfo/productpage 9080/TCP of bookinfo/ratings",
		"host -> bookinfo/reviews 9080/TCP of bookinfo/productpage",
		"remote-node -> bookinfo/ratings 9080/TCP of bookinfo/reviews",
	}
	if diff := cmp.Diff(wantMirrors, mirrors); diff != "" {
		t.Errorf("mirror edges (-want +got):\n%s", diff)
	}

	seenAs := map[string]string{}
	for _, p := range g.Peers {
		if p.Kind == KindExternal {
			if !p.InClusterIP || p.InClusterReason != SeenAsWorkload {
				t.Errorf("%s: a pod IP seen as world is not flagged as seen as a workload (%v, %s)", p.Key(), p.InClusterIP, p.InClusterReason)
			}
			seenAs[p.CIDR.String()] = g.Peers[p.SeenAs].String()
		}
	}
	wantSeenAs := map[string]string{"10.244.1.109/32": "bookinfo/reviews", "10.244.1.18/32": "bookinfo/reviews", "10.244.1.193/32": "bookinfo/details"}
	if diff := cmp.Diff(wantSeenAs, seenAs); diff != "" {
		t.Errorf("in-cluster addresses (-want +got):\n%s", diff)
	}

	if c := g.Coverage; c.Flows != 1218 || c.Skipped["health"] != 19 || c.GuessedFlows != 0 || c.UndirectedFlows != c.InferredFlows {
		t.Errorf("coverage = %+v", c)
	}

	e := g.Edges[g.edgeIndex(t, "bookinfo/productpage -> bookinfo/reviews 9080/TCP")]
	if diff := cmp.Diff([]string{"GET /reviews/{id}"}, e.HTTP); diff != "" {
		t.Errorf("productpage -> reviews HTTP evidence (-want +got):\n%s", diff)
	}
	if e.Verdicts != VerdictForwarded|VerdictRedirected {
		t.Errorf("productpage -> reviews verdicts = %s", e.Verdicts)
	}
	dns := g.Edges[g.edgeIndex(t, "bookinfo/productpage -> kube-system/kube-dns 53/UDP")]
	// productpage looks up the services it calls (ratings, the curl
	// source, is the one that looks up productpage).
	wantNames := []string{"details.bookinfo.svc.cluster.local", "reviews.bookinfo.svc.cluster.local"}
	if diff := cmp.Diff(wantNames, dns.DNSQueries); diff != "" {
		t.Errorf("productpage -> kube-dns names (-want +got):\n%s", diff)
	}
}

func (g *Graph) edgeIndex(t *testing.T, line string) int {
	t.Helper()
	for i := range g.Edges {
		if g.EdgeString(&g.Edges[i]) == line {
			return i
		}
	}
	t.Fatalf("no edge %q", line)
	return -1
}

func TestBookinfoReleasesFoldUnlessKept(t *testing.T) {
	paths := bookinfoPaths(t)
	count := func(opts Options) []string {
		g := buildFile(t, opts, paths...)
		var keys []string
		for _, p := range g.Peers {
			if p.Kind == KindWorkload && p.Labels["app"] == "reviews" {
				keys = append(keys, p.Key())
			}
		}
		return keys
	}
	if diff := cmp.Diff([]string{"workload:bookinfo/app=reviews"}, count(Options{})); diff != "" {
		t.Errorf("default (-want +got):\n%s", diff)
	}
	want := []string{"workload:bookinfo/app=reviews,version=v1", "workload:bookinfo/app=reviews,version=v2", "workload:bookinfo/app=reviews,version=v3"}
	if diff := cmp.Diff(want, count(Options{KeepLabels: []string{"version"}})); diff != "" {
		t.Errorf("--keep-labels version (-want +got):\n%s", diff)
	}
}

// TestMultiubuntuLegacyCapture covers the legacy shape: a JSON array of
// bare flows, the deprecated reply field only, pods labelled container=
// and group= with no app label.
func TestMultiubuntuLegacyCapture(t *testing.T) {
	g := buildFile(t, Options{}, sharedflows.Path(t, "multiubuntu-gke/flows-template-verbose.json"))
	want := []string{
		"multiubuntu/ubuntu-1-deployment -> kube-system/kube-dns 53/UDP",
		"multiubuntu/ubuntu-1-deployment -> multiubuntu/ubuntu-4-deployment 8080/TCP",
	}
	if diff := cmp.Diff(want, edgeLines(g, g.PolicyEdges())); diff != "" {
		t.Errorf("policy edges (-want +got):\n%s", diff)
	}
	var keys []string
	for _, p := range g.Peers {
		keys = append(keys, p.Key())
	}
	wantKeys := []string{
		"reserved:remote-node",
		"workload:kube-system/k8s-app=kube-dns",
		"workload:multiubuntu/container=ubuntu-1,group=group-1",
		"workload:multiubuntu/container=ubuntu-4,group=group-2",
	}
	if diff := cmp.Diff(wantKeys, keys); diff != "" {
		t.Errorf("peers (-want +got):\n%s", diff)
	}
	// The two DNS requests carry no reply field; only the answers do.
	if c := g.Coverage; c.ReplyFlows != 6 || c.UndirectedFlows != 8 || c.InferredFlows != 8 || c.MirrorFlows != 7 {
		t.Errorf("coverage = %+v", c)
	}
}

// readFlows loads a capture into memory, copying what the source reuses.
func readFlows(t *testing.T, paths []string) []*observe.Flow {
	t.Helper()
	src := capture.NewSource(paths, capture.Options{Strict: true})
	defer src.Close()
	var out []*observe.Flow
	for {
		rec, err := src.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec.Kind != observe.KindFlow {
			continue
		}
		f := rec.Flow
		if f.L7 != nil {
			l7 := *f.L7
			if l7.DNS != nil {
				d := *l7.DNS
				l7.DNS = &d
			}
			if l7.HTTP != nil {
				h := *l7.HTTP
				l7.HTTP = &h
			}
			f.L7 = &l7
		}
		out = append(out, &f)
	}
}

func TestSameFlowsInAnyOrderGiveTheSameBytes(t *testing.T) {
	paths := append(bookinfoPaths(t), sharedflows.Path(t, "multiubuntu-gke/flows-template-verbose.json"))
	flows := readFlows(t, paths)
	render := func(fs []*observe.Flow) (snap, dot, mermaid []byte) {
		b := NewBuilder(Options{})
		for _, f := range fs {
			b.Add(f)
		}
		g := b.Finish()
		var d, m bytes.Buffer
		if err := g.WriteDOT(&d); err != nil {
			t.Fatal(err)
		}
		if err := g.WriteMermaid(&m); err != nil {
			t.Fatal(err)
		}
		return snapshotBytes(t, g), d.Bytes(), m.Bytes()
	}
	wantSnap, wantDOT, wantMermaid := render(flows)
	for seed := uint64(1); seed <= 3; seed++ {
		shuffled := append([]*observe.Flow(nil), flows...)
		r := rand.New(rand.NewPCG(seed, seed))
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		snap, dot, mermaid := render(shuffled)
		if !bytes.Equal(snap, wantSnap) {
			t.Errorf("seed %d: snapshot differs:\n%s", seed, cmp.Diff(string(wantSnap), string(snap)))
		}
		if !bytes.Equal(dot, wantDOT) {
			t.Errorf("seed %d: DOT differs:\n%s", seed, cmp.Diff(string(wantDOT), string(dot)))
		}
		if !bytes.Equal(mermaid, wantMermaid) {
			t.Errorf("seed %d: Mermaid differs", seed)
		}
	}
}
