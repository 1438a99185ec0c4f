package l7test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/netpolgen/netpolgen/internal/flowgen"
	"github.com/netpolgen/netpolgen/pkg/graph"
	"github.com/netpolgen/netpolgen/pkg/observe/capture"
	"github.com/netpolgen/netpolgen/pkg/synth"
)

// learnL7 learns CiliumNetworkPolicies with L7 rules from an hour of the
// L7 scenario. Rendering runs Cilium's Sanitize on every policy.
func learnL7(t *testing.T) ([]synth.File, *synth.Plan) {
	t.Helper()
	var buf bytes.Buffer
	if _, err := flowgen.Generate(flowgen.L7(), flowgen.Options{Seed: 5, Duration: time.Hour}, &buf); err != nil {
		t.Fatal(err)
	}
	g, err := graph.Build(context.Background(), capture.NewSource([]string{"-"}, capture.Options{Strict: true, Stdin: &buf}), graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := synth.Build(synth.FromGraph(g), synth.Options{Format: synth.FormatCilium, L7: synth.L7Options{Enabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	files, _, err := plan.Files(synth.FormatCilium)
	if err != nil {
		t.Fatal(err)
	}
	return files, plan
}

func TestL7PoliciesPassServerSideDryRun(t *testing.T) {
	env := apiserver.Start(t)
	files, plan := learnL7(t)
	var namespaces strings.Builder
	for _, ns := range plan.Namespaces {
		fmt.Fprintf(&namespaces, "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n", ns)
	}
	env.Apply(t, namespaces.String())
	var kinds = map[string]int{}
	for _, f := range files {
		if strings.HasSuffix(f.Path, "kustomization.yaml") {
			continue
		}
		data := string(f.Data)
		for _, kind := range []string{"http:", "dns:", "matchPattern: shard-", "matchName:"} {
			if strings.Contains(data, kind) {
				kinds[kind]++
			}
		}
		objs, err := env.DryRun(context.Background(), f.Data)
		if err != nil {
			t.Errorf("%s: the apiserver rejects it: %v", f.Path, err)
			continue
		}
		if len(objs) == 0 {
			t.Errorf("%s: no object", f.Path)
		}
	}
	// The scenario's policies carry every kind of L7 rule netpolgen writes.
	for _, kind := range []string{"http:", "dns:", "matchPattern: shard-", "matchName:"} {
		if kinds[kind] == 0 {
			t.Errorf("no policy has %q", kind)
		}
	}
	t.Logf("L7 rules in %v policies, all accepted by the apiserver with Cilium's CRDs", kinds)
}

// The dry run can fail: the CRD schema rejects an L7 rule of the wrong
// shape, naming the field.
func TestDryRunRejectsAMalformedL7Rule(t *testing.T) {
	env := apiserver.Start(t)
	env.Apply(t, "apiVersion: v1\nkind: Namespace\nmetadata: {name: l7-broken}\n")
	bad := `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: bad-http, namespace: l7-broken}
spec:
  endpointSelector: {}
  ingress:
  - toPorts:
    - ports: [{port: "80", protocol: TCP}]
      rules:
        http: [{method: GET, path: {regex: "/x"}}]
`
	_, err := env.DryRun(context.Background(), []byte(bad))
	if err == nil || !strings.Contains(err.Error(), "path") {
		t.Errorf("the apiserver accepted a path that is not a string, or did not name it: %v", err)
	}
}
