package diff_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/netpolgen/netpolgen/internal/cluster"
	"github.com/netpolgen/netpolgen/internal/diff"
	"github.com/netpolgen/netpolgen/internal/sharedflows"
	"github.com/netpolgen/netpolgen/internal/testenv"
	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/synth"
)

func adminClient(t *testing.T, env *testenv.Env) *cluster.Client {
	t.Helper()
	c, err := cluster.NewClient(env.Config, "test admin")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ensureNamespaces creates the namespaces objects live in.
func ensureNamespaces(t *testing.T, env *testenv.Env, objs []*unstructured.Unstructured) {
	t.Helper()
	seen := map[string]bool{}
	var b strings.Builder
	for _, o := range objs {
		if ns := o.GetNamespace(); ns != "" && !seen[ns] {
			seen[ns] = true
			fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n", ns)
		}
	}
	env.Apply(t, b.String())
}

// learnBookinfo runs netpolgen learn on the whole bookinfo capture and
// reads back every policy it wrote.
func learnBookinfo(t *testing.T, format synth.Format) []*unstructured.Unstructured {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(sharedflows.Dir(t), "bookinfo-kind", "*.json"))
	if err != nil || len(files) == 0 {
		t.Skip("bookinfo capture absent")
	}
	out := t.TempDir()
	args := []string{"learn", "--out", out, "--format", string(format)}
	for _, f := range files {
		args = append(args, "--from-file", f)
	}
	// Exit 1 says verification found denied connections, which is the
	// synthesis's business; the files are written either way.
	if code, _, stderr := runCLI(args...); code > 1 {
		t.Fatalf("learn: exit %d: %s", code, stderr)
	}
	objs, err := diff.LoadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func TestEveryLearnedBookinfoPolicyPassesServerSideDryRun(t *testing.T) {
	env := apiserver.Start(t)
	c := adminClient(t, env)
	for _, format := range []synth.Format{synth.FormatCilium, synth.FormatKubernetes} {
		t.Run(string(format), func(t *testing.T) {
			objs := learnBookinfo(t, format)
			if len(objs) < 5 {
				t.Fatalf("learn wrote only %d objects for bookinfo", len(objs))
			}
			ensureNamespaces(t, env, objs)
			kinds := map[string]int{}
			for _, o := range objs {
				if _, err := c.DryRunApply(context.Background(), o); err != nil {
					t.Errorf("%s: %v", diff.ObjectKey(o), err)
					continue
				}
				kinds[o.GetKind()]++
			}
			t.Logf("%d objects accepted: %v", len(objs), kinds)
			// Nothing was persisted.
			live, _, err := c.ReadPolicies(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range live {
				if o.GetNamespace() == "bookinfo" {
					t.Errorf("dry run persisted %s", diff.ObjectKey(o))
				}
			}
		})
	}
}

func TestBrokenPoliciesAreRejectedWithTheServersMessage(t *testing.T) {
	env := apiserver.Start(t)
	env.Apply(t, "apiVersion: v1\nkind: Namespace\nmetadata: {name: broken}\n")
	c := adminClient(t, env)
	tests := []struct {
		name, manifest string
		want           []string
	}{
		{
			name: "NetworkPolicy port out of range",
			manifest: `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bad-port, namespace: broken}
spec:
  podSelector: {}
  ingress: [{ports: [{port: 70000, protocol: TCP}]}]
`,
			want: []string{"spec.ingress[0].ports[0].port", "Invalid value"},
		},
		{
			name: "CiliumNetworkPolicy against the CRD schema",
			manifest: `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: bad-entity, namespace: broken}
spec:
  endpointSelector: {}
  egress: [{toEntities: [everything-please]}]
`,
			want: []string{"toEntities", "everything-please", "Unsupported value"},
		},
		{
			name: "namespace that does not exist",
			manifest: `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: orphan, namespace: no-such-namespace}
spec: {podSelector: {}}
`,
			want: []string{`namespace "no-such-namespace" does not exist`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := diff.ParseManifests("broken.yaml", []byte(tt.manifest))
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.DryRunApply(context.Background(), objs[0])
			var rejected *cluster.RejectedError
			if !errors.As(err, &rejected) {
				t.Fatalf("err = %v, want a RejectedError", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestICMPRulesPassServerSideDryRun: the icmps rules netpolgen writes for
// pings are what Cilium's CRD schema accepts, beside the NetworkPolicy
// that leaves them out.
func TestICMPRulesPassServerSideDryRun(t *testing.T) {
	env := apiserver.Start(t)
	c := adminClient(t, env)
	web, api := synth.WorkloadPeer("pingshop", "web"), synth.WorkloadPeer("pingshop", "api")
	g := &synth.Graph{
		Workloads: []synth.Workload{
			{WorkloadRef: web.Workload, Selector: map[string]string{"app": "web"}},
			{WorkloadRef: api.Workload, Selector: map[string]string{"app": "api"}},
		},
		Edges: []synth.Edge{
			{From: web, To: api, Protocol: observe.ProtoTCP, Port: 9000, Flows: 1},
			{From: web, To: api, Protocol: observe.ProtoICMPv4, Port: 8, Flows: 1},
			{From: web, To: api, Protocol: observe.ProtoICMPv6, Port: 128, Flows: 1},
		},
	}
	plan, err := synth.Build(g, synth.Options{Format: synth.FormatBoth})
	if err != nil {
		t.Fatal(err)
	}
	files, _, err := plan.Files(synth.FormatBoth)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := synth.WriteFiles(dir, files); err != nil {
		t.Fatal(err)
	}
	objs, err := diff.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	ensureNamespaces(t, env, objs)
	icmps := 0
	for _, o := range objs {
		if _, err := c.DryRunApply(context.Background(), o); err != nil {
			t.Errorf("%s: %v", diff.ObjectKey(o), err)
		}
		for _, dir := range []string{"ingress", "egress"} {
			rules, _, _ := unstructured.NestedSlice(o.Object, "spec", dir)
			for _, r := range rules {
				if m, ok := r.(map[string]any); ok && m["icmps"] != nil {
					icmps++
				}
			}
		}
	}
	if icmps != 2 {
		t.Errorf("%d rules with icmps among %d objects, want web's egress and api's ingress", icmps, len(objs))
	}
}
