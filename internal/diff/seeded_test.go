package diff_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/netpolgen/netpolgen/internal/cli"
	"github.com/netpolgen/netpolgen/internal/cluster"
	"github.com/netpolgen/netpolgen/internal/diff"
	"github.com/netpolgen/netpolgen/internal/filetree"
	"github.com/netpolgen/netpolgen/internal/testenv"
	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/synth"
)

// The live state: db admits api only; legacy is someone else's policy;
// web is what netpolgen would write anyway.
const seededLive = `
apiVersion: v1
kind: Namespace
metadata: {name: seeded}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: seeded}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
  ingress: [{from: [{podSelector: {matchLabels: {app: api}}}], ports: [{port: 5432}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: legacy, namespace: seeded}
spec: {podSelector: {matchLabels: {app: batch}}, policyTypes: [Ingress]}
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: web, namespace: seeded}
spec:
  endpointSelector: {matchLabels: {app: web}}
  ingress: [{fromEntities: [world], toPorts: [{ports: [{port: "8080", protocol: TCP}]}]}]
`

// The proposal: db admits web too, api gets a deny-all ingress, web is
// unchanged. Ports omit the protocol, which the server defaults to TCP:
// the dry-run must make that no difference.
var seededProposed = map[string]string{
	"seeded/db.yaml": `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: seeded}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
  ingress: [{from: [{podSelector: {matchLabels: {app: api}}}, {podSelector: {matchLabels: {app: web}}}], ports: [{port: 5432}]}]
`,
	"seeded/api.yaml": `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api, namespace: seeded}
spec: {podSelector: {matchLabels: {app: api}}, policyTypes: [Ingress]}
`,
	"seeded/web.yaml": `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: web, namespace: seeded}
spec:
  endpointSelector: {matchLabels: {app: web}}
  ingress: [{fromEntities: [world], toPorts: [{ports: [{port: "8080", protocol: TCP}]}]}]
`,
	"kustomization.yaml": "resources: [seeded]\n",
}

func seededGraph() *synth.Graph {
	peer := func(app string) synth.Peer { return synth.WorkloadPeer("seeded", app) }
	wl := func(app string) synth.Workload {
		return synth.Workload{WorkloadRef: synth.WorkloadRef{Namespace: "seeded", Name: app}, Selector: map[string]string{"app": app},
			Identities: [][]string{{"k8s:app=" + app, "k8s:io.kubernetes.pod.namespace=seeded"}}}
	}
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	edge := func(from, to synth.Peer, port uint16) synth.Edge {
		return synth.Edge{From: from, To: to, Protocol: observe.ProtoTCP, Port: port, Flows: 1, First: t0, Last: t0}
	}
	return &synth.Graph{
		Workloads: []synth.Workload{wl("web"), wl("api"), wl("db")},
		Edges:     []synth.Edge{edge(peer("web"), peer("api"), 9000), edge(peer("api"), peer("db"), 5432), edge(peer("web"), peer("db"), 5432)},
	}
}

func inNamespace(changes []diff.ObjectChange, ns string) map[string]diff.Action {
	out := map[string]diff.Action{}
	for _, c := range changes {
		if c.Namespace == ns {
			out[c.Key()] = c.Action
		}
	}
	return out
}

func TestDiffAgainstASeededCluster(t *testing.T) {
	env := apiserver.Start(t)
	env.Apply(t, seededLive)
	proposedDir := filetree.Write(t, seededProposed)
	proposed, err := diff.LoadDir(proposedDir)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := testenv.KubeConfig(t, env.Config, "admin@envtest")
	rep, err := diff.Run(context.Background(), diff.Inputs{
		Proposed: proposed,
		Cluster:  cluster.Options{Kubeconfig: kubeconfig},
		Graph:    seededGraph(),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]diff.Action{
		"NetworkPolicy seeded/db":        diff.ActionUpdate,
		"NetworkPolicy seeded/api":       diff.ActionCreate,
		"NetworkPolicy seeded/legacy":    diff.ActionKept,
		"CiliumNetworkPolicy seeded/web": diff.ActionUnchanged,
	}
	if d := cmp.Diff(want, inNamespace(rep.Objects.Changes, "seeded")); d != "" {
		t.Errorf("object actions (-want +got):\n%s", d)
	}
	if len(rep.Objects.Notes) != 0 {
		t.Errorf("notes %q: the admin may dry-run", rep.Objects.Notes)
	}
	for _, c := range rep.Objects.Changes {
		if c.Key() != "NetworkPolicy seeded/db" {
			continue
		}
		// Only the new peer differs: the server's defaults (protocol TCP)
		// are on both sides, and server-managed fields on neither.
		var added, removed []string
		for _, line := range strings.Split(c.Diff, "\n") {
			switch {
			case strings.HasPrefix(line, "+++"), strings.HasPrefix(line, "---"):
			case strings.HasPrefix(line, "+"):
				added = append(added, strings.TrimSpace(line[1:]))
			case strings.HasPrefix(line, "-"):
				removed = append(removed, strings.TrimSpace(line[1:]))
			}
		}
		if d := cmp.Diff([]string{"- podSelector:", "matchLabels:", "app: web"}, added); d != "" || len(removed) != 0 {
			t.Errorf("db diff adds %q and removes %q; want only the web peer:\n%s", added, removed, c.Diff)
		}
	}

	s := rep.Semantic
	if s == nil {
		t.Fatal("no semantic diff although a graph was given")
	}
	web, api, db := synth.WorkloadPeer("seeded", "web").String(), synth.WorkloadPeer("seeded", "api").String(), synth.WorkloadPeer("seeded", "db").String()
	wantSemantic := &diff.SemanticResult{
		Observed:         3,
		NewlyDenied:      []diff.Connection{{From: web, To: api, Port: "9000/TCP", Side: "ingress"}},
		NewlyAllowed:     []diff.Connection{{From: web, To: db, Port: "5432/TCP", Side: "ingress"}},
		UnchangedAllowed: 1,
	}
	if d := cmp.Diff(wantSemantic, s); d != "" {
		t.Errorf("semantic diff (-want +got):\n%s", d)
	}
	if !rep.Changed() {
		t.Error("Changed() = false")
	}
}

// runCLI runs netpolgen in-process.
func runCLI(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := cli.Run(context.Background(), cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errOut}, args)
	return code, out.String(), errOut.String()
}

func TestDiffCommandUnderTheReadOnlyRoleAndWithoutIt(t *testing.T) {
	env := apiserver.Start(t)
	env.Apply(t, seededLive)
	rbac, err := os.ReadFile(filepath.Join("..", "..", "deploy", "rbac.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	env.Apply(t, "apiVersion: v1\nkind: Namespace\nmetadata: {name: netpolgen}\n---\n"+string(rbac)+`
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: netpolgen-reader-carol}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: netpolgen-reader}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: carol}]
`)
	proposed := filetree.Write(t, seededProposed)
	carol := testenv.KubeConfig(t, env.AddUser(t, "carol"), "carol@envtest")
	dave := testenv.KubeConfig(t, env.AddUser(t, "dave"), "dave@envtest")

	code, out, stderr := runCLI("diff", "--policies", proposed, "--kubeconfig", carol)
	if code != 1 {
		t.Fatalf("diff as carol (reader role): exit %d, want 1 (changes); stderr: %s", code, stderr)
	}
	for _, want := range []string{
		"+++ proposed/NetworkPolicy seeded/api",
		"kept (in force, not proposed, not deleted): NetworkPolicy seeded/legacy",
		"server-side dry-run not permitted: it needs the patch verb on networkpolicies.networking.k8s.io",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	code, out, stderr = runCLI("diff", "--policies", proposed, "--kubeconfig", dave)
	if code != 2 {
		t.Fatalf("diff as dave (no role): exit %d, want 2; stdout: %s", code, out)
	}
	want := "netpolgen: error: cannot list namespaces cluster-wide: forbidden; netpolgen needs the read-only role in deploy/rbac.yaml"
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr %q, want %q", stderr, want)
	}
}

func TestDiffCommandExitsZeroWhenTheClusterAlreadyHasTheProposal(t *testing.T) {
	env := apiserver.Start(t)
	env.Apply(t, seededLive)
	// db as it is live, written without the protocol the server
	// defaults: the dry-run makes them equal.
	proposed := filetree.Write(t, map[string]string{
		"seeded/web.yaml": seededProposed["seeded/web.yaml"],
		"seeded/db.yaml": `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: seeded}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
  ingress: [{from: [{podSelector: {matchLabels: {app: api}}}], ports: [{port: 5432}]}]
`,
	})
	admin := testenv.KubeConfig(t, env.Config, "admin@envtest")
	code, out, stderr := runCLI("diff", "--policies", proposed, "--kubeconfig", admin, "--context", "admin@envtest")
	if code != 0 {
		t.Fatalf("exit %d, want 0 (no change); stderr: %s\n%s", code, stderr, out)
	}
	if !strings.Contains(out, "0 to create, 0 to update, 2 unchanged, 0 rejected") {
		t.Errorf("summary:\n%s", out)
	}
}
