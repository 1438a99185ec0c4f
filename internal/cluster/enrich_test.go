package cluster_test

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/netpolgen/netpolgen/internal/cluster"
	"github.com/netpolgen/netpolgen/internal/sharedflows"
	"github.com/netpolgen/netpolgen/internal/testenv"
	"github.com/netpolgen/netpolgen/pkg/graph"
	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/observe/capture"
	"github.com/netpolgen/netpolgen/pkg/synth"
)

// worldOnlyFlows reads the bookinfo capture keeping only the flows with
// an endpoint Cilium labelled reserved:world at a pod address, so the
// graph has no other sighting of those pods to fall back on.
func worldOnlyFlows(t *testing.T) []observe.Flow {
	t.Helper()
	dir := sharedflows.Dir(t)
	files, err := filepath.Glob(filepath.Join(dir, "bookinfo-kind", "*.json"))
	if err != nil || len(files) == 0 {
		t.Skipf("bookinfo capture absent in %s", dir)
	}
	pods := netip.MustParsePrefix("10.244.0.0/16")
	isWorldPod := func(ep observe.Endpoint, ip netip.Addr) bool {
		return slices.Contains(ep.Labels, "reserved:world") && pods.Contains(ip)
	}
	src := capture.NewSource(files, capture.Options{})
	defer src.Close()
	var out []observe.Flow
	for {
		rec, err := src.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		f := rec.Flow
		if rec.Kind == observe.KindFlow && (isWorldPod(f.Source, f.SrcIP) || isWorldPod(f.Destination, f.DstIP)) {
			f.Source.Labels = slices.Clone(f.Source.Labels)
			f.Destination.Labels = slices.Clone(f.Destination.Labels)
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		t.Fatal("the bookinfo capture has no world-labelled pod addresses any more")
	}
	return out
}

// learnPolicies runs flows through graph and synthesis, as learn does,
// and returns the generated files joined.
func learnPolicies(t *testing.T, flows []observe.Flow, enrich *cluster.Enricher) string {
	t.Helper()
	b := graph.NewBuilder(graph.Options{})
	for i := range flows {
		f := flows[i]
		if enrich != nil {
			enrich.Flow(&f)
		}
		b.Add(&f)
	}
	plan, err := synth.Build(synth.FromGraph(b.Finish()), synth.Options{Format: synth.FormatBoth})
	if err != nil {
		t.Fatal(err)
	}
	files, _, err := plan.Files(synth.FormatBoth)
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	for _, f := range files {
		all.WriteString("# " + f.Path + "\n")
		all.Write(f.Data)
	}
	return all.String()
}

func TestEnrichmentNamesWorkloadsHubbleSawAsWorld(t *testing.T) {
	flows := worldOnlyFlows(t)
	env := apiserver.Start(t)
	env.Apply(t, "apiVersion: v1\nkind: Namespace\nmetadata: {name: bookinfo}\n")
	for _, p := range testenv.BookinfoRemotePods() {
		env.CreatePod(t, p)
	}
	c, err := cluster.NewClient(env.Config, "test admin")
	if err != nil {
		t.Fatal(err)
	}
	snap, err := c.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	plain := learnPolicies(t, flows, nil)
	enricher := cluster.NewEnricher(snap.Pods)
	enriched := learnPolicies(t, flows, enricher)

	for _, p := range testenv.BookinfoRemotePods() {
		if strings.Contains(enriched, p.IPs[0]) {
			t.Errorf("enriched policies still name %s by address:\n%s", p.IPs[0], enriched)
		}
	}
	// productpage calls details and reviews on the other node: with the
	// cluster's pods its egress selects them by label.
	for _, want := range []string{"app: details", "app: reviews"} {
		if strings.Contains(plain, want) {
			t.Errorf("without the cluster the policies already select %q; the test shows nothing", want)
		}
		if !strings.Contains(enriched, want) {
			t.Errorf("enriched policies do not select %q:\n%s", want, enriched)
		}
	}
	var resolved []string
	for _, r := range enricher.Resolved() {
		resolved = append(resolved, r.Addr.String()+"="+r.Pod.Name)
	}
	if len(resolved) != len(testenv.BookinfoRemotePods()) {
		t.Errorf("resolved %v, want the %d remote pods", resolved, len(testenv.BookinfoRemotePods()))
	}
}
