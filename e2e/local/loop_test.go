//go:build e2elocal

package local

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/netpolgen/netpolgen/internal/testenv"
)

// learnDuration is how long learn follows the agent's Hubble: the load
// generator calls every 300ms and the outside client every second, so
// every path is seen many times over.
const learnDuration = "25s"

// TestLoop is the whole promise on a real datapath, once per policy
// format: learn from the live agent, apply, every learned path still
// works, an intruder is dropped and Hubble and drift say so, and the
// policies survive a rollout of the backend.
func TestLoop(t *testing.T) {
	for _, format := range []string{"cilium", "kubernetes"} {
		t.Run(format, func(t *testing.T) { runLoop(t, format) })
	}
}

// app is the demo application of one run (see README.md, "The scenario").
type app struct {
	ns                string
	frontend, loadgen *pod
	backends          []*pod
	dnsAddr           string
	frontendURL       string
	format            string
}

func (a *app) name(svc string) string { return svc + "." + a.ns + ".svc.cluster.local" }

func runLoop(t *testing.T, format string) {
	n := theNode.get(t)
	dir := filepath.Join(n.work, format)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	a := deployApp(t, n, "demo-"+format)

	// DNS visibility first, as a user does (netpolgen visibility), so
	// Hubble sees the names pods resolve and learn writes toFQDNs.
	var visibility []*unstructured.Unstructured
	if format == "cilium" {
		visDir := filepath.Join(dir, "visibility")
		netpolgen(t, n, "visibility", "--namespace", a.ns, "--cluster=false", "--out", visDir)
		visibility = applyDir(t, n, visDir)
		step(t, "applied %d learning-mode policies; waiting for the DNS proxy to report names", len(visibility))
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		err := waitFor(60*time.Second, "Hubble to report DNS answers through the proxy", func() error {
			out, err := n.observe(ctx, "--namespace", a.ns, "--protocol", "dns", "--since", "30s")
			if err != nil {
				return err
			}
			if !strings.Contains(out, partnerName) {
				return errNoFlow
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	policies := filepath.Join(dir, "policies")
	step(t, "netpolgen learn --server %s --duration %s --format %s", hubbleAddr, learnDuration, format)
	learnStart := time.Now()
	learn := startNetpolgen(n, "learn", "--server", hubbleAddr, "--duration", learnDuration, "--namespace", a.ns,
		"--format", format, "--out", policies, "--state", filepath.Join(dir, "learn-state.json"), "--quiet",
		"--kubeconfig", n.kubeconfig)
	// Scale loadgen up while learn runs: the new pod's interface comes up,
	// and its IPv6 router solicitations and MLD reports reach the agent
	// with reserved:unknown destinations, as in every real cluster.
	time.Sleep(3 * time.Second)
	scaleUp, err := n.addPod(t, deployment{namespace: a.ns, name: "loadgen", labels: a.loadgen.labels, hash: a.loadgen.labels["pod-template-hash"]})
	if err != nil {
		t.Fatal(err)
	}
	scaleUp.start(t, "load", "load", "--dns", a.dnsAddr, "--every", "300ms", a.frontendURL)
	if out, err := learn(); err != nil {
		t.Fatalf("netpolgen learn: %v\n%s", err, out)
	}
	if report, err := os.ReadFile(filepath.Join(policies, "REPORT.md")); err != nil {
		t.Fatalf("learn wrote no REPORT.md: %v", err)
	} else {
		t.Logf("REPORT.md:\n%s", report)
	}
	assertLearnSawUnknown(t, n, a, learnStart)

	deleteObjects(t, n, visibility)
	applied := applyDir(t, n, filepath.Join(policies, a.ns))
	if len(applied) == 0 {
		t.Fatalf("learn wrote no policies for %s under %s", a.ns, policies)
	}
	t.Cleanup(func() { deleteObjects(t, n, applied) })
	for _, o := range applied {
		step(t, "applied %s %s/%s", o.GetKind(), o.GetNamespace(), o.GetName())
	}
	a.format = format

	intruder, err := n.addPod(t, deployment{namespace: a.ns, name: "intruder", labels: map[string]string{"app.kubernetes.io/name": "intruder"}})
	if err != nil {
		t.Fatal(err)
	}
	backendURL := "http://" + a.backends[0].ip + ":9090/"
	// Enforcement has begun when the intruder is refused three times in a row.
	refused := 0
	err = waitFor(90*time.Second, "the policies to be enforced (intruder refused 3 times in a row)", func() error {
		if _, err := intruder.exec(10*time.Second, "get", "--timeout", "2s", backendURL); err == nil {
			refused = 0
			return fmt.Errorf("intruder still reaches %s", backendURL)
		}
		refused++
		if refused < 3 {
			return errNoFlow
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	enforced := time.Now()
	step(t, "PASS intruder %s -> backend %s refused", intruder.name, backendURL)

	assertPathsWork(t, n, a, "under the learned policies")
	assertNoFailuresSince(t, a, n, enforced)

	// Hubble reports the intruder's flow DROPPED by policy.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dropped := filepath.Join(dir, "dropped.json")
	var drop hubbleFlow
	err = waitFor(30*time.Second, "Hubble to report the intruder's flow DROPPED", func() error {
		out, err := n.observe(ctx, "--verdict", "DROPPED", "--from-pod", a.ns+"/"+intruder.name)
		if err != nil {
			return err
		}
		if err := os.WriteFile(dropped, []byte(out), 0o644); err != nil {
			return err
		}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if json.Unmarshal([]byte(line), &drop) == nil && drop.Flow.Verdict == "DROPPED" {
				return nil
			}
		}
		return errNoFlow
	})
	if err != nil {
		t.Fatal(err)
	}
	step(t, "PASS Hubble: %s/%s -> %s/%s %s (%s)", drop.Flow.Source.Namespace, drop.Flow.Source.PodName,
		drop.Flow.Destination.Namespace, drop.Flow.Destination.PodName, drop.Flow.Verdict, drop.Flow.DropReasonDesc)

	// drift --once over those flows reports the intruder as uncovered.
	driftDir := filepath.Join(dir, "drift")
	out, code := netpolgenExit(t, n, "drift", "--once", "--policies", policies, "--from-file", dropped, "--report-dir", driftDir)
	if code == 0 {
		t.Fatalf("drift --once exited 0 although the intruder's traffic was dropped:\n%s", out)
	}
	report, err := os.ReadFile(filepath.Join(driftDir, "drift-report.md"))
	if err != nil {
		t.Fatalf("drift wrote no report: %v\n%s", err, out)
	}
	if !strings.Contains(string(report), "intruder") {
		t.Fatalf("drift's report does not name the intruder:\n%s", report)
	}
	step(t, "PASS drift --once exited %d and its report names the intruder", code)

	// A rollout: new backend pods (new pod-template-hash, new addresses)
	// replace the old ones, and the same policies still let traffic flow.
	old := a.backends
	a.backends = startBackends(t, n, a, 2)
	var newIPs []string
	for _, p := range a.backends {
		for _, o := range old {
			if p.ip == o.ip {
				t.Fatalf("rollout: new backend %s got the old address %s", p.name, p.ip)
			}
			if p.labels["pod-template-hash"] == o.labels["pod-template-hash"] {
				t.Fatalf("rollout: new backend %s kept pod-template-hash %s", p.name, p.labels["pod-template-hash"])
			}
		}
		newIPs = append(newIPs, p.ip)
	}
	if err := n.setDNS(a.name("backend"), newIPs...); err != nil {
		t.Fatal(err)
	}
	for _, o := range old {
		if err := o.remove(); err != nil {
			t.Fatalf("rollout: remove %s: %v", o.key(), err)
		}
	}
	rolled := time.Now()
	step(t, "rollout: backend now %v (pod-template-hash %s), the old pods are gone", newIPs, a.backends[0].labels["pod-template-hash"])
	assertPathsWork(t, n, a, "after the backend's rollout")
	assertNoFailuresSince(t, a, n, rolled)
	step(t, "PASS %s: learn, enforce, intruder dropped, drift, rollout", format)
}

// deployApp starts the demo app in ns and waits until its whole chain
// answers.
func deployApp(t *testing.T, n *node, ns string) *app {
	t.Helper()
	n.ensureNamespace(t, ns, map[string]string{"app.kubernetes.io/part-of": "netpolgen-demo"})
	a := &app{ns: ns, dnsAddr: n.dns.ip + ":53"}
	var worldLoad *proc
	t.Cleanup(func() {
		if worldLoad != nil {
			worldLoad.stop()
		}
		for _, p := range n.podsIn(ns) {
			if err := p.remove(); err != nil {
				t.Errorf("remove pod %s: %v", p.key(), err)
			}
		}
	})
	a.backends = startBackends(t, n, a, 2)
	var ips []string
	for _, b := range a.backends {
		ips = append(ips, b.ip)
	}
	if err := n.setDNS(a.name("backend"), ips...); err != nil {
		t.Fatal(err)
	}
	var err error
	if a.frontend, err = n.addPod(t, deployment{namespace: ns, name: "frontend", labels: map[string]string{"app.kubernetes.io/name": "frontend", "version": "v1"}}); err != nil {
		t.Fatal(err)
	}
	if err := n.setDNS(a.name("frontend"), a.frontend.ip); err != nil {
		t.Fatal(err)
	}
	a.frontend.start(t, "serve", "serve", "--http", ":8080", "--name", "frontend", "--dns", a.dnsAddr,
		"--call", "http://"+a.name("backend")+":9090/", "--call", "udp://"+a.name("backend")+":9125")
	a.frontendURL = "http://" + a.name("frontend") + ":8080/"
	if a.loadgen, err = n.addPod(t, deployment{namespace: ns, name: "loadgen", labels: map[string]string{"app.kubernetes.io/name": "loadgen"}}); err != nil {
		t.Fatal(err)
	}
	err = waitFor(90*time.Second, "loadgen -> frontend -> backend -> partner", func() error {
		_, err := a.loadgen.exec(15*time.Second, "get", "--dns", a.dnsAddr, "--timeout", "10s", a.frontendURL)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	a.loadgen.start(t, "load", "load", "--dns", a.dnsAddr, "--every", "300ms", a.frontendURL)
	// The outside calls in, by address: world ingress to the frontend.
	worldLoad = n.world.start(t, "load-"+ns, "load", "--every", "1s", "http://"+a.frontend.ip+":8080/")
	step(t, "demo app up in %s: loadgen -> frontend %s -> backend %v (TCP 9090, UDP 9125) -> %s (%s); world %s -> frontend",
		ns, a.frontend.ip, ips, partnerName, worldIP, worldIP)
	return a
}

// startBackends starts one rollout of the backend: count pods sharing a
// new pod-template-hash, serving HTTP on 9090 and UDP on 9125 and calling
// the partner by name.
func startBackends(t *testing.T, n *node, a *app, count int) []*pod {
	t.Helper()
	d := deployment{namespace: a.ns, name: "backend", labels: map[string]string{"app.kubernetes.io/name": "backend"}, hash: randomHex(10)}
	var out []*pod
	for i := 0; i < count; i++ {
		p, err := n.addPod(t, d)
		if err != nil {
			t.Fatal(err)
		}
		p.start(t, "serve", "serve", "--http", ":9090", "--udp", ":9125", "--name", "backend", "--dns", a.dnsAddr,
			"--call", "http://"+partnerName+":8443/")
		out = append(out, p)
	}
	return out
}

// assertPathsWork makes real requests over every path the app exercised
// while learning; each must succeed five times out of five.
func assertPathsWork(t *testing.T, n *node, a *app, when string) {
	t.Helper()
	outside := "(toFQDNs, through the DNS proxy)"
	if a.format == "kubernetes" {
		outside = "(ipBlock)"
	}
	checks := []struct {
		what string
		from *pod
		args []string
	}{
		{"loadgen -> frontend:8080 -> backend 9090/TCP + 9125/UDP -> " + partnerName + ":8443 " + outside, a.loadgen,
			[]string{"get", "--dns", a.dnsAddr, "--timeout", "10s", a.frontendURL}},
		{"world " + worldIP + " -> frontend:8080 (world ingress)", n.world,
			[]string{"get", "--timeout", "10s", "http://" + a.frontend.ip + ":8080/"}},
	}
	for _, c := range checks {
		for i := 0; i < 5; i++ {
			if out, err := c.from.exec(20*time.Second, c.args...); err != nil {
				t.Fatalf("%s: %s is broken (attempt %d): %v\n%s", when, c.what, i+1, err, out)
			}
		}
		step(t, "PASS %s: %s, 5/5", when, c.what)
	}
}

// assertNoFailuresSince checks the continuous load generators logged no
// failed request since a moment (plus the time a request may take).
func assertNoFailuresSince(t *testing.T, a *app, n *node, since time.Time) {
	t.Helper()
	time.Sleep(5 * time.Second)
	cut := since.Add(3 * time.Second).UTC()
	for _, log := range []string{
		filepath.Join(n.work, "logs", a.loadgen.name+"-load.log"),
		filepath.Join(n.work, "logs", "world-load-"+a.ns+".log"),
	} {
		lines, err := readLines(log)
		if err != nil {
			t.Fatal(err)
		}
		var failures []string
		for _, l := range lines {
			ts, _, ok := strings.Cut(l, " ")
			at, err := time.Parse(time.RFC3339, ts)
			if ok && err == nil && at.After(cut) {
				failures = append(failures, l)
			}
		}
		if len(failures) > 0 {
			t.Fatalf("%s logged %d failed requests since %s:\n%s", filepath.Base(log), len(failures), cut.Format(time.RFC3339), strings.Join(failures, "\n"))
		}
	}
	step(t, "PASS the continuous load (loadgen every 300ms, world every 1s) saw no failure since %s", cut.Format("15:04:05"))
}

func (n *node) podsIn(ns string) []*pod {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []*pod
	for _, p := range n.pods {
		if p.namespace == ns {
			out = append(out, p)
		}
	}
	return out
}

// step logs one assertion or milestone of the scenario.
func step(t *testing.T, format string, args ...any) {
	t.Helper()
	logf(t, "== "+format, args...)
}

// netpolgen runs the netpolgen binary and fails the test if it fails.
func netpolgen(t *testing.T, n *node, args ...string) string {
	t.Helper()
	out, code := netpolgenExit(t, n, args...)
	if code != 0 {
		t.Fatalf("netpolgen %s exited %d:\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

func netpolgenExit(t *testing.T, n *node, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, n.bin.netpolgen, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+n.kubeconfig)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() > 0 {
			return string(out), ee.ExitCode()
		}
		t.Fatalf("netpolgen %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), 0
}

// applyDir applies every policy YAML under dir through the apiserver.
func applyDir(t *testing.T, n *node, dir string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") || filepath.Base(path) == "kustomization.yaml" {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		objs, err := testenv.ApplyAs(context.Background(), n.env.Config, b)
		if err != nil {
			return fmt.Errorf("apply %s: %w", path, err)
		}
		out = append(out, objs...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// deleteObjects deletes applied policies.
func deleteObjects(t *testing.T, n *node, objs []*unstructured.Unstructured) {
	t.Helper()
	dyn, err := dynamic.NewForConfig(n.env.Config)
	if err != nil {
		t.Fatal(err)
	}
	resources := map[string]string{"CiliumNetworkPolicy": "ciliumnetworkpolicies", "NetworkPolicy": "networkpolicies", "CiliumClusterwideNetworkPolicy": "ciliumclusterwidenetworkpolicies"}
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		res, ok := resources[gvk.Kind]
		if !ok {
			t.Errorf("cannot delete %s %s: unknown kind", gvk.Kind, o.GetName())
			continue
		}
		gvr := schema.GroupVersionResource{Group: gvk.Group, Version: gvk.Version, Resource: res}
		var ri dynamic.ResourceInterface = dyn.Resource(gvr)
		if o.GetNamespace() != "" {
			ri = dyn.Resource(gvr).Namespace(o.GetNamespace())
		}
		if err := ri.Delete(context.Background(), o.GetName(), metav1.DeleteOptions{}); err != nil {
			t.Errorf("delete %s %s/%s: %v", gvk.Kind, o.GetNamespace(), o.GetName(), err)
		}
	}
}

// assertLearnSawUnknown checks that the flows learn just read included
// ones the agent reports with reserved:unknown endpoints (IPv6 router
// solicitations and MLD reports of the namespace's pods): learn once
// failed on exactly these ("verify: peer entity:unknown"), so the suite
// must keep feeding them to it.
func assertLearnSawUnknown(t *testing.T, n *node, a *app, since time.Time) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := n.observe(ctx, "--since", since.UTC().Format(time.RFC3339))
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, `"reserved:unknown"`) && strings.Contains(line, "k8s:io.kubernetes.pod.namespace="+a.ns+`"`) {
			count++
		}
	}
	if count == 0 {
		t.Fatalf("Hubble reported no flow of %s with a reserved:unknown endpoint while learn ran: the suite no longer exercises learn on them", a.ns)
	}
	step(t, "PASS learn succeeded on live flows including %d of %s's with reserved:unknown endpoints (IPv6 router solicitations, MLD)", count, a.ns)
}

// startNetpolgen starts the netpolgen binary and returns a function that
// waits for it (bounded) and returns its output.
func startNetpolgen(n *node, args ...string) func() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	cmd := exec.CommandContext(ctx, n.bin.netpolgen, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+n.kubeconfig)
	var buf strings.Builder
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Start()
	return func() (string, error) {
		defer cancel()
		if err != nil {
			return "", err
		}
		err := cmd.Wait()
		return buf.String(), err
	}
}
