//go:build e2elocal

package local

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestL7DNS is learn --l7 on the real datapath, through Cilium's DNS
// proxy (the agent's own; Envoy is not available here, so no HTTP rules
// are learned or enforced): every workload's DNS rule lists the names it
// resolved, every learned path still works under the policies, and a name
// the client never resolved while learning is refused by the proxy, as
// Hubble reports.
func TestL7DNS(t *testing.T) {
	n := theNode.get(t)
	dir := filepath.Join(n.work, "l7")
	a := deployApp(t, n, "demo-l7")

	visDir := filepath.Join(dir, "visibility")
	netpolgen(t, n, "visibility", "--namespace", a.ns, "--cluster=false", "--out", visDir)
	visibility := applyDir(t, n, visDir)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	err := waitFor(60*time.Second, "Hubble to report DNS answers through the proxy", func() error {
		out, err := n.observe(ctx, "--namespace", a.ns, "--protocol", "dns", "--since", "30s")
		if err != nil {
			return err
		}
		if !strings.Contains(out, partnerName) || !strings.Contains(out, a.name("frontend")) {
			return errNoFlow
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	policies := filepath.Join(dir, "policies")
	step(t, "netpolgen learn --l7 --server %s --duration %s", hubbleAddr, learnDuration)
	out := netpolgen(t, n, "learn", "--l7", "--server", hubbleAddr, "--duration", learnDuration, "--namespace", a.ns,
		"--out", policies, "--quiet", "--kubeconfig", n.kubeconfig)
	if !strings.Contains(out, "verify L7: ") {
		t.Fatalf("learn --l7 did not verify L7 rules:\n%s", out)
	}
	loadgen, err := os.ReadFile(filepath.Join(policies, a.ns, "loadgen.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(loadgen), "matchName: "+a.name("frontend")) || strings.Contains(string(loadgen), "matchPattern: '*'") {
		t.Fatalf("loadgen's DNS rule does not list the names it resolved:\n%s", loadgen)
	}
	if strings.Contains(string(loadgen), partnerName) {
		t.Fatalf("loadgen never resolved %s, yet its policy names it:\n%s", partnerName, loadgen)
	}
	step(t, "PASS learn --l7: loadgen's DNS rule lists %s only", a.name("frontend"))

	deleteObjects(t, n, visibility)
	applied := applyDir(t, n, filepath.Join(policies, a.ns))
	t.Cleanup(func() { deleteObjects(t, n, applied) })
	intruder, err := n.addPod(t, deployment{namespace: a.ns, name: "intruder", labels: map[string]string{"app.kubernetes.io/name": "intruder"}})
	if err != nil {
		t.Fatal(err)
	}
	backendURL := "http://" + a.backends[0].ip + ":9090/"
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
	assertPathsWork(t, n, a, "under the learned L7 policies")
	assertNoFailuresSince(t, a, n, enforced)

	// loadgen asks for a name it never resolved while learning: the DNS
	// proxy refuses it, and Hubble reports the DNS request dropped.
	if out, err := a.loadgen.exec(20*time.Second, "get", "--dns", a.dnsAddr, "--timeout", "5s", "http://"+partnerName+":8443/"); err == nil {
		t.Fatalf("loadgen resolved and reached %s, which it never did while learning:\n%s", partnerName, out)
	}
	var drop hubbleFlow
	err = waitFor(30*time.Second, "Hubble to report loadgen's lookup of "+partnerName+" DROPPED", func() error {
		out, err := n.observe(ctx, "--protocol", "dns", "--verdict", "DROPPED", "--from-pod", a.ns+"/"+a.loadgen.name)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if json.Unmarshal([]byte(line), &drop) == nil && strings.Contains(line, partnerName) {
				return nil
			}
		}
		return errNoFlow
	})
	if err != nil {
		t.Fatal(err)
	}
	step(t, "PASS the DNS proxy refused loadgen's never-learned lookup of %s (Hubble: %s)", partnerName, drop.Flow.Verdict)
	// The names it did resolve still resolve, through the same proxy.
	assertPathsWork(t, n, a, "after the refused lookup")
}
