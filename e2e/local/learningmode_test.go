//go:build e2elocal

package local

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Issue 22's outside services, all served by the world namespace's
// partner on port 8443 at addresses of their own: the service the client
// uses by name, the address it moves to, another name, an address nobody
// names, and a service learned without learning mode.
const (
	lmName       = "svc.vendor.example"
	lmMovedIP    = "198.51.100.13"
	lmOtherName  = "other.vendor.example"
	lmOtherIP    = "198.51.100.12"
	lmRawIP      = "198.51.100.11"
	lmPinnedName = "pinned.vendor.example"
	lmPinnedIP   = "198.51.100.14"
)

// TestLearningModeNamesOutsideServices is issue 22 on the real datapath
// with the agent's DNS proxy: learning mode applied denies nothing (named
// and unnamed outside paths answer); learn on live flows writes toFQDNs;
// applied, the named path works while another name and a raw outside
// address are denied; after the name moves to a new address the path
// still works. Without learning mode, learn says the service is pinned
// to its address. (HTTP visibility needs Envoy, which is not here; it is
// proven by Sanitize and the apiserver's dry-run in internal/visibility.)
func TestLearningModeNamesOutsideServices(t *testing.T) {
	n := theNode.get(t)
	dir := filepath.Join(n.work, "learning-mode")
	dnsAddr := n.dns.ip + ":53"
	for _, ip := range []string{lmMovedIP, lmOtherIP, lmRawIP, lmPinnedIP} {
		lmWorldAddr(t, ip)
	}
	for name, ip := range map[string]string{lmName: worldIP, lmOtherName: lmOtherIP, lmPinnedName: lmPinnedIP} {
		if err := n.setDNS(name, ip); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = n.setDNS(name) })
	}
	url := func(host string) string { return "http://" + host + ":8443/" }

	ns := "demo-fqdn"
	n.ensureNamespace(t, ns, nil)
	t.Cleanup(func() { lmRemovePods(t, n, ns) })
	client, err := n.addPod(t, deployment{namespace: ns, name: "client", labels: map[string]string{"app.kubernetes.io/name": "client"}})
	if err != nil {
		t.Fatal(err)
	}
	// The prober tries every outside path under learning mode; the client
	// uses only the named one, so its learned policy names only that.
	prober, err := n.addPod(t, deployment{namespace: ns, name: "prober", labels: map[string]string{"app.kubernetes.io/name": "prober"}})
	if err != nil {
		t.Fatal(err)
	}

	visDir := filepath.Join(dir, "visibility")
	netpolgen(t, n, "visibility", "--namespace", ns, "--cluster=false", "--out", visDir)
	visibility := applyDir(t, n, visDir)
	t.Cleanup(func() { deleteObjects(t, n, visibility) })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// The prober waits for the proxy, so the client's first lookup
	// already passes it.
	err = waitFor(60*time.Second, "Hubble to report DNS answers through the proxy", func() error {
		if _, err := prober.exec(15*time.Second, "get", "--dns", dnsAddr, "--timeout", "5s", url(lmName)); err != nil {
			return err
		}
		out, err := n.observe(ctx, "--namespace", ns, "--protocol", "dns", "--since", "30s")
		if err != nil {
			return err
		}
		if !strings.Contains(out, lmName) {
			return errNoFlow
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{url(lmName), url(lmOtherName), url(lmRawIP)} {
		if out, err := prober.exec(20*time.Second, "get", "--dns", dnsAddr, "--timeout", "5s", target); err != nil {
			t.Fatalf("learning mode denied %s: %v\n%s", target, err, out)
		}
	}
	step(t, "PASS learning mode applied: named (%s, %s) and unnamed (%s) outside paths answer", lmName, lmOtherName, lmRawIP)

	client.start(t, "load", "load", "--dns", dnsAddr, "--every", "300ms", url(lmName))
	policies := filepath.Join(dir, "policies")
	out := netpolgen(t, n, "learn", "--server", hubbleAddr, "--duration", "20s", "--namespace", ns,
		"--format", "cilium", "--out", policies, "--quiet", "--cluster=false")
	clientPolicy, err := os.ReadFile(filepath.Join(policies, ns, "client.yaml"))
	if err != nil {
		t.Fatalf("learn wrote no policy for the client: %v\n%s", err, out)
	}
	if !strings.Contains(string(clientPolicy), "matchName: "+lmName) {
		t.Fatalf("the client's policy does not name %s by toFQDNs:\n%s", lmName, clientPolicy)
	}
	if strings.Contains(string(clientPolicy), lmRawIP) || strings.Contains(string(clientPolicy), lmOtherName) {
		t.Fatalf("the client's policy names what only the prober reached:\n%s", clientPolicy)
	}
	step(t, "PASS learn wrote toFQDNs matchName %s for the client", lmName)

	deleteObjects(t, n, visibility)
	visibility = nil
	applied := applyDir(t, n, filepath.Join(policies, ns))
	t.Cleanup(func() { deleteObjects(t, n, applied) })
	// Enforcement has begun when the raw address is refused three times
	// in a row.
	refused := 0
	err = waitFor(90*time.Second, "the learned policies to be enforced (raw address refused 3 times in a row)", func() error {
		if _, err := client.exec(10*time.Second, "get", "--timeout", "2s", url(lmRawIP)); err == nil {
			refused = 0
			return errNoFlow
		}
		if refused++; refused < 3 {
			return errNoFlow
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	lmWorks(t, client, dnsAddr, url(lmName), "under the learned policies")
	if out, err := client.exec(20*time.Second, "get", "--dns", dnsAddr, "--timeout", "3s", url(lmOtherName)); err == nil {
		t.Fatalf("another name (%s) is allowed under the learned policies:\n%s", lmOtherName, out)
	}
	step(t, "PASS under the learned policies: %s works, %s and %s are denied", lmName, lmOtherName, lmRawIP)

	if err := n.setDNS(lmName, lmMovedIP); err != nil {
		t.Fatal(err)
	}
	lmWorks(t, client, dnsAddr, url(lmName), "after "+lmName+" moved to "+lmMovedIP)
	step(t, "PASS %s moved from %s to %s and the path still works", lmName, worldIP, lmMovedIP)

	// Without learning mode, the DNS proxy is not in the path, and learn
	// says the outside service is pinned to its address.
	plain := "demo-pinned"
	n.ensureNamespace(t, plain, nil)
	t.Cleanup(func() { lmRemovePods(t, n, plain) })
	caller, err := n.addPod(t, deployment{namespace: plain, name: "caller", labels: map[string]string{"app.kubernetes.io/name": "caller"}})
	if err != nil {
		t.Fatal(err)
	}
	err = waitFor(60*time.Second, "the caller to reach "+lmPinnedName, func() error {
		_, err := caller.exec(15*time.Second, "get", "--dns", dnsAddr, "--timeout", "5s", url(lmPinnedName))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	caller.start(t, "load", "load", "--dns", dnsAddr, "--every", "300ms", url(lmPinnedName))
	out = netpolgen(t, n, "learn", "--server", hubbleAddr, "--duration", "10s", "--namespace", plain,
		"--format", "cilium", "--out", filepath.Join(dir, "pinned"), "--quiet", "--cluster=false")
	if !strings.Contains(out, "outside destinations: 1 pinned to addresses, no DNS name seen") {
		t.Fatalf("learn without learning mode does not say the outside service is pinned:\n%s", out)
	}
	report, err := os.ReadFile(filepath.Join(dir, "pinned", "REPORT.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(report), "| "+plain+"/caller | "+lmPinnedIP+"/32 | 8443/TCP |") {
		t.Fatalf("REPORT.md does not list %s as pinned:\n%s", lmPinnedIP, report)
	}
	step(t, "PASS without learning mode learn says %s is pinned to %s", lmPinnedName, lmPinnedIP)
}

// lmWorldAddr gives the world namespace another address for as long as the
// test runs; its partner serves on every address.
func lmWorldAddr(t *testing.T, ip string) {
	t.Helper()
	if out, err := exec.Command("ip", "-n", worldNetns, "addr", "add", ip+"/24", "dev", "eth0").CombinedOutput(); err != nil {
		t.Fatalf("add %s to the world: %v: %s", ip, err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "-n", worldNetns, "addr", "del", ip+"/24", "dev", "eth0").Run() })
}

// lmWorks makes five requests, each of which must succeed.
func lmWorks(t *testing.T, from *pod, dnsAddr, target, when string) {
	t.Helper()
	for i := 0; i < 5; i++ {
		if out, err := from.exec(20*time.Second, "get", "--dns", dnsAddr, "--timeout", "5s", target); err != nil {
			t.Fatalf("%s: %s from %s failed (attempt %d): %v\n%s", when, target, from.key(), i+1, err, out)
		}
	}
}

func lmRemovePods(t *testing.T, n *node, ns string) {
	for _, p := range n.podsIn(ns) {
		if err := p.remove(); err != nil {
			t.Errorf("remove pod %s: %v", p.key(), err)
		}
	}
}
