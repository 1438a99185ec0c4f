package visibility_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netpolgen/netpolgen/internal/cli"
	"github.com/netpolgen/netpolgen/internal/cluster"
	"github.com/netpolgen/netpolgen/internal/testenv"
	"github.com/netpolgen/netpolgen/internal/visibility"
	"github.com/netpolgen/netpolgen/pkg/synth"
)

// apiserver is a kube-apiserver with Cilium's policy CRDs.
var apiserver = testenv.NewShared()

func TestMain(m *testing.M) { os.Exit(apiserver.Main(m)) }

func netpolgen(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := cli.Run(context.Background(), cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errOut}, args)
	return code, out.String(), errOut.String()
}

// TestOnTheAPIServer reads namespaces and the DNS Service from a real
// apiserver, refuses what it cannot find (writing nothing), and has the
// apiserver, with Cilium's CRDs, accept every policy written: first as a
// server-side dry-run, then applied, where the cluster reader sees them
// as learning-mode policies. The steps share one apiserver, so they run
// in order: the DNS Service does not exist at first.
func TestOnTheAPIServer(t *testing.T) {
	env := apiserver.Start(t)
	kubeconfig := testenv.KubeConfig(t, env.Config, "admin@envtest")
	env.Apply(t, `
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Namespace
metadata: {name: billing}
`)
	refused := func(t *testing.T, want string, args ...string) {
		t.Helper()
		out := filepath.Join(t.TempDir(), "learning-mode")
		code, _, stderr := netpolgen(t, append([]string{"visibility", "--kubeconfig", kubeconfig, "--out", out}, args...)...)
		if code != 2 || !strings.Contains(stderr, want) || !strings.Contains(stderr, "nothing written") {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 saying %q and that nothing was written", args, code, stderr, want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%v: %s was created", args, out)
		}
	}
	refused(t, "no DNS Service in namespace kube-system")

	// CoreDNS as some distributions name and label it.
	env.Apply(t, `
apiVersion: v1
kind: Service
metadata: {name: coredns, namespace: kube-system}
spec:
  selector: {app.kubernetes.io/name: coredns}
  ports: [{name: dns, port: 53, protocol: UDP}]
`)
	refused(t, `namespace "nope" does not exist in the cluster at `+env.Config.Host, "--namespace", "shop,nope")
	refused(t, "--dns-selector kube-system/k8s-app=kube-dns: no pod in namespace kube-system has these labels", "--dns-selector", "kube-system/k8s-app=kube-dns")

	out := filepath.Join(t.TempDir(), "learning-mode")
	code, stdout, stderr := netpolgen(t, "visibility", "--kubeconfig", kubeconfig, "--http", "shop/8080", "--include-namespace", "kube-system", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, `service=kube-system/coredns selector="kube-system/app.kubernetes.io/name=coredns"`) {
		t.Errorf("stderr %q does not name the DNS Service read", stderr)
	}
	// Every namespace but the system ones, and kube-system as asked.
	if !strings.Contains(stdout, "for 4 namespaces (billing, default, kube-system, shop)") {
		t.Errorf("stdout %q: want billing, default, kube-system and shop", stdout)
	}
	system, err := os.ReadFile(filepath.Join(out, "kube-system", visibility.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(system, []byte("- key: k8s:app.kubernetes.io/name\n      operator: NotIn\n      values:\n      - coredns")) {
		t.Errorf("kube-system's policy selects the DNS servers too:\n%s", system)
	}
	shop, err := os.ReadFile(filepath.Join(out, "shop", visibility.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(shop, []byte("k8s:app.kubernetes.io/name: coredns")) {
		t.Errorf("shop's DNS rule does not select the pods the Service selects:\n%s", shop)
	}

	var manifests bytes.Buffer
	for _, ns := range []string{"billing", "default", "kube-system", "shop"} {
		data, err := os.ReadFile(filepath.Join(out, ns, visibility.FileName))
		if err != nil {
			t.Fatal(err)
		}
		manifests.WriteString("---\n")
		manifests.Write(data)
	}
	dry, err := env.DryRun(context.Background(), manifests.Bytes())
	if err != nil {
		t.Fatalf("server-side dry-run: %v", err)
	}
	if len(dry) != 5 {
		t.Fatalf("dry-run returned %d objects, want 4 DNS policies and shop's HTTP policy", len(dry))
	}
	for _, o := range dry {
		spec, _ := o.Object["spec"].(map[string]any)
		if dd, _ := spec["enableDefaultDeny"].(map[string]any); dd["ingress"] != false || dd["egress"] != false {
			t.Errorf("%s/%s as the server stores it: enableDefaultDeny %v, want both false", o.GetNamespace(), o.GetName(), spec["enableDefaultDeny"])
		}
	}

	env.Apply(t, manifests.String())
	c, err := cluster.Connect(context.Background(), cluster.Options{Kubeconfig: kubeconfig})
	if err != nil {
		t.Fatal(err)
	}
	policies, _, err := c.ReadPolicies(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	learning := 0
	for _, p := range policies {
		if synth.IsVisibility(p.GetLabels()) {
			learning++
		}
	}
	if learning != 5 {
		t.Errorf("the cluster holds %d learning-mode policies, want 5", learning)
	}

	// learn, reading the cluster, says where learning mode was in force.
	learned := t.TempDir()
	code, _, stderr = netpolgen(t, "learn", "--from-file", filepath.Join("..", "..", "examples", "shop-flows.json.gz"), "--cluster", "--kubeconfig", kubeconfig, "--out", learned)
	if code != 0 {
		t.Fatalf("learn --cluster: exit %d: %s", code, stderr)
	}
	if want := "learning mode (netpolgen visibility) is in force; REPORT.md says so namespaces=billing,default,kube-system,shop"; !strings.Contains(stderr, want) {
		t.Errorf("learn's stderr %q lacks %q", stderr, want)
	}
	report, err := os.ReadFile(filepath.Join(learned, "REPORT.md"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "Learning mode: **in force** in billing, default, kube-system, shop (learning-mode policies"; !bytes.Contains(report, []byte(want)) {
		t.Errorf("REPORT.md lacks %q", want)
	}

	t.Run("reader role", func(t *testing.T) { readerRoleIsEnough(t, env) })
}

// readerRoleIsEnough runs visibility as a user bound only to the
// read-only role in deploy/rbac.yaml, with the DNS Service in place.
func readerRoleIsEnough(t *testing.T, env *testenv.Env) {
	role, err := os.ReadFile(filepath.Join("..", "..", "deploy", "rbac.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	env.Apply(t, `
apiVersion: v1
kind: Namespace
metadata: {name: netpolgen}
---
apiVersion: v1
kind: Namespace
metadata: {name: reader-shop}
---
`+string(role)+`
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: netpolgen-reader-carol}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: netpolgen-reader}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: carol}]
`)
	kubeconfig := testenv.KubeConfig(t, env.AddUser(t, "carol"), "carol@envtest")
	out := filepath.Join(t.TempDir(), "learning-mode")
	code, _, stderr := netpolgen(t, "visibility", "--cluster", "--kubeconfig", kubeconfig, "--namespace", "reader-shop", "--out", out)
	if code != 0 {
		t.Fatalf("as carol under the reader role: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "reader-shop", visibility.FileName)); err != nil {
		t.Error(err)
	}
}
