package graph

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// A workload's peer keeps the identity label sets its pods were seen
// with, as the flows carried them (rollout and namespace labels too), the
// same whatever order the flows came in.
func TestWorkloadKeepsObservedIdentities(t *testing.T) {
	var specs []flowSpec
	for i := range 3 {
		s := toServerSYN(uint16(40001 + i))
		s.src = pod("shop", "frontend-7d9f8c6b5-aaaaa", "app=frontend", fmt.Sprintf("pod-template-hash=h%d", i))
		specs = append(specs, s)
	}
	want := [][]string{}
	for i := range 3 {
		want = append(want, []string{
			"k8s:app=frontend",
			"k8s:io.cilium.k8s.policy.cluster=default",
			"k8s:io.cilium.k8s.policy.serviceaccount=frontend-7d9f8c6b5-aaaaa",
			"k8s:io.kubernetes.pod.namespace=shop",
			fmt.Sprintf("k8s:pod-template-hash=h%d", i),
		})
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 5 {
		r.Shuffle(len(specs), func(i, j int) { specs[i], specs[j] = specs[j], specs[i] })
		g := buildFrom(t, Options{}, specs...)
		id := g.PeerByKey("workload:shop/app=frontend")
		if id == NoPeer {
			t.Fatal("no frontend peer")
		}
		p := g.Peer(id)
		if diff := cmp.Diff(want, p.Identities); diff != "" {
			t.Fatalf("identities (-want +got):\n%s", diff)
		}
		if p.IdentitiesTruncated {
			t.Error("3 sets reported truncated")
		}
		for _, other := range g.Peers {
			if other.Kind != KindWorkload && len(other.Identities) > 0 {
				t.Errorf("%s is not a workload but has identities %v", other.Key(), other.Identities)
			}
		}
	}
}

// Beyond MaxIdentities distinct sets, the smallest are kept and the peer
// says more were seen, whatever the flow order.
func TestWorkloadIdentitiesAreCapped(t *testing.T) {
	var specs []flowSpec
	n := MaxIdentities + 5
	for i := range n {
		s := toServerSYN(uint16(40001 + i))
		s.src = pod("shop", "frontend-7d9f8c6b5-aaaaa", "app=frontend", fmt.Sprintf("pod-template-hash=h%02d", i))
		specs = append(specs, s)
	}
	var first []byte
	r := rand.New(rand.NewPCG(5, 6))
	for range 5 {
		r.Shuffle(len(specs), func(i, j int) { specs[i], specs[j] = specs[j], specs[i] })
		g := buildFrom(t, Options{}, specs...)
		p := g.Peer(g.PeerByKey("workload:shop/app=frontend"))
		if len(p.Identities) != MaxIdentities || !p.IdentitiesTruncated {
			t.Fatalf("kept %d sets (truncated %v), want %d and truncated", len(p.Identities), p.IdentitiesTruncated, MaxIdentities)
		}
		if last := p.Identities[MaxIdentities-1]; !slices.Contains(last, fmt.Sprintf("k8s:pod-template-hash=h%02d", MaxIdentities-1)) {
			t.Errorf("the largest kept set is %v, want the one with h%02d", last, MaxIdentities-1)
		}
		b := snapshotBytes(t, g)
		if first == nil {
			first = b
		} else if !bytes.Equal(first, b) {
			t.Fatalf("snapshot depends on flow order:\n%s", cmp.Diff(string(first), string(b)))
		}
	}
}

// A version 1 snapshot (before identities were recorded) still loads:
// its workloads simply have none.
func TestLoadsVersion1Snapshot(t *testing.T) {
	g := buildFrom(t, Options{}, toServerSYN(40001))
	v2 := string(snapshotBytes(t, g))
	if !strings.Contains(v2, `"identities": [`) {
		t.Fatalf("snapshot records no identities:\n%s", v2)
	}
	v1 := strings.Replace(v2, fmt.Sprintf(`"version": %d,`, SnapshotVersion), `"version": 1,`, 1)
	if !strings.Contains(v1, `"version": 1,`) {
		t.Fatal("could not set the version to 1")
	}
	v1 = regexp.MustCompile(`(?s),\s*"identities": \[.*?\]\s*\]`).ReplaceAllString(v1, "")
	if strings.Contains(v1, "identities") {
		t.Fatalf("could not strip identities:\n%s", v1)
	}
	loaded, err := Load(strings.NewReader(v1), "old.graph.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range loaded.Peers {
		if len(p.Identities) > 0 {
			t.Errorf("%s has identities %v from a version 1 snapshot", p.Key(), p.Identities)
		}
	}
	if diff := cmp.Diff(edgeLines(g, g.Edges), edgeLines(loaded, loaded.Edges)); diff != "" {
		t.Errorf("edges differ (-new +old format):\n%s", diff)
	}
}

// Merging a graph with identities and one without (an old snapshot)
// keeps the identities.
func TestMergeKeepsIdentitiesOfEitherSide(t *testing.T) {
	a := buildFrom(t, Options{}, toServerSYN(40001))
	b := buildFrom(t, Options{}, toServerSYN(40002))
	for i := range b.Peers {
		b.Peers[i].Identities = nil
	}
	m := mustMerge(t, b, a)
	p := m.Peer(m.PeerByKey("workload:shop/app=frontend"))
	if len(p.Identities) != 1 {
		t.Errorf("merged identities = %v, want frontend's one set", p.Identities)
	}
}
