//go:build e2elocal

package local

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/netpolgen/netpolgen/internal/testenv"
)

// The node's fixed facts. Everything lives inside the node's own network
// namespace, so fixed addresses and ports cannot collide with the host's.
const (
	nodeName   = "npg-node"
	podCIDR    = "10.244.0.0/24"
	nativeCIDR = "10.244.0.0/16"
	// The node's one device is a veth to the "world" namespace. Its
	// addresses come from TEST-NET-2 (RFC 5737), outside every range the
	// cluster uses and outside this machine's own networks.
	extDevice  = "npgext0"
	nodeExtIP  = "198.51.100.1"
	worldIP    = "198.51.100.10"
	worldNetns = "npg-world"
	hubbleAddr = "127.0.0.1:4244"
	// partnerName is the outside service the backend calls by name.
	partnerName = "api.partner.example"
)

// controlPlane is the package's kube-apiserver and etcd (internal/testenv).
var controlPlane = testenv.NewShared()

// theNode is started by the first test that needs it and stopped by
// nodeMain after the last.
var theNode = &nodeFixture{}

type nodeFixture struct {
	once sync.Once
	n    *node
	err  error
}

// node is a running single-node cluster: apiserver, cilium-agent, the
// cluster DNS pod and the world namespace.
type node struct {
	work       string // artifacts and scratch, removed after a passing run
	bin        binaries
	kubeconfig string
	env        *testenv.Env
	cs         kubernetes.Interface
	agent      *proc
	dns        *pod
	records    string // the DNS pod's records file
	world      *pod   // the outside peer's namespace (no Pod object)
	pods       map[string]*pod
	mu         sync.Mutex
	dnsNames   map[string][]string
	cleanups   []func()
}

// nodeMain runs inside the node namespace: it makes the mount namespace
// private to the suite, runs the tests and tears everything down.
func nodeMain(m *testing.M) int {
	if err := prepareMounts(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e/local: preparing the node's mounts:", err)
		return 1
	}
	if err := createWorld(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e/local: creating the world namespace:", err)
		removeWorld()
		return 1
	}
	code := m.Run()
	if n := theNode.n; n != nil {
		n.stop(code != 0)
	}
	removeWorld()
	// Last: the agent talked to it until n.stop.
	if err := controlPlane.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e/local: stopping kube-apiserver and etcd:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// prepareMounts gives the suite its own /run (the agent's runtime
// directory, the CNI socket and pod namespaces live there), its own bpffs
// and shields the kernel-wide sysctls cilium-agent sets: they are not per
// network namespace, so its writes go to files of its own instead of this
// machine's kernel. The mount namespace `ip netns exec` created is a slave
// of the host's, so none of this propagates back.
func prepareMounts() error {
	if err := syscall.Mount("none", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make / private: %w", err)
	}
	if err := syscall.Mount("tmpfs", "/run", "tmpfs", 0, "mode=0755"); err != nil {
		return fmt.Errorf("tmpfs on /run: %w", err)
	}
	if err := syscall.Mount("bpffs", "/sys/fs/bpf", "bpf", 0, ""); err != nil {
		return fmt.Errorf("bpffs on /sys/fs/bpf: %w", err)
	}
	shield := "/run/netpolgen-sysctl"
	if err := os.MkdirAll(shield, 0o755); err != nil {
		return err
	}
	for _, key := range []string{
		"kernel/unprivileged_bpf_disabled", "kernel/timer_migration",
		"net/core/bpf_jit_enable", "net/core/fb_tunnels_only_for_init_net", "net/core/default_qdisc",
	} {
		path := "/proc/sys/" + key
		cur, err := os.ReadFile(path)
		if err != nil {
			continue // not visible from this network namespace: nothing to shield
		}
		copyPath := filepath.Join(shield, strings.ReplaceAll(key, "/", "."))
		if err := os.WriteFile(copyPath, cur, 0o644); err != nil {
			return err
		}
		if err := syscall.Mount(copyPath, path, "", syscall.MS_BIND, ""); err != nil {
			return fmt.Errorf("shield %s: %w", path, err)
		}
	}
	if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		return fmt.Errorf("ip link set lo up: %v: %s", err, out)
	}
	return nil
}

// get returns the node, starting it on first use.
func (f *nodeFixture) get(t *testing.T) *node {
	t.Helper()
	requireNode(t)
	// Missing binaries are a broken set-up here, not a reason to skip.
	if dir, missing, err := testenv.AssetsDir(); err != nil || len(missing) > 0 {
		t.Fatalf("kube-apiserver/etcd not available in %s (missing %v, %v): run `make testbin` (make e2e-local does)", dir, missing, err)
	}
	env := controlPlane.Start(t)
	f.once.Do(func() {
		f.n = &node{env: env, pods: map[string]*pod{}, dnsNames: map[string][]string{}}
		f.err = f.n.start(t)
	})
	if f.err != nil {
		t.Fatalf("starting the node: %v", f.err)
	}
	return f.n
}

func (n *node) start(t *testing.T) error {
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	n.work = filepath.Join(wd, ".artifacts", fmt.Sprintf("run-%s", time.Now().UTC().Format("20060102T150405")))
	if err := os.MkdirAll(n.work, 0o755); err != nil {
		return err
	}
	logf(t, "artifacts of this run: %s (kept only if it fails)", n.work)
	if n.bin, err = findBinaries(t, n.work); err != nil {
		return err
	}
	if n.cs, err = kubernetes.NewForConfig(n.env.Config); err != nil {
		return err
	}
	if n.kubeconfig, err = writeKubeconfig(n.env, filepath.Join(n.work, "kubeconfig")); err != nil {
		return err
	}
	if err := n.installCiliumCRDs(t); err != nil {
		return err
	}
	if err := n.createNode(); err != nil {
		return err
	}
	n.world = &pod{node: n, name: "world", netns: worldNetns, ip: worldIP}
	if err := n.startAgent(t); err != nil {
		return err
	}
	return n.startDNS(t)
}

// installCiliumCRDs installs every CRD of the cilium module's v2 and
// v2alpha1 groups (the operator does this in a real cluster; the suite
// runs no operator) and waits until the agent's resources are served.
func (n *node) installCiliumCRDs(t *testing.T) error {
	dir, err := ciliumModuleDir()
	if err != nil {
		return err
	}
	var files []string
	for _, v := range []string{"v2", "v2alpha1"} {
		got, err := filepath.Glob(filepath.Join(dir, "pkg", "k8s", "apis", "cilium.io", "client", "crds", v, "*.yaml"))
		if err != nil {
			return err
		}
		files = append(files, got...)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if _, err := testenv.ApplyAs(context.Background(), n.env.Config, b); err != nil {
			return fmt.Errorf("install CRD %s: %w", f, err)
		}
	}
	logf(t, "installed %d Cilium CRDs from %s", len(files), dir)
	return waitFor(60*time.Second, "Cilium's CRDs to be served", func() error {
		for _, r := range []string{"ciliumendpoints", "ciliumnodes", "ciliumidentities", "ciliumnetworkpolicies"} {
			if err := n.cs.Discovery().RESTClient().Get().AbsPath("/apis/cilium.io/v2/" + r).Do(context.Background()).Error(); err != nil {
				return fmt.Errorf("%s: %w", r, err)
			}
		}
		return nil
	})
}

// createNode registers this node as a kubelet would, with the podCIDR the
// agent's kubernetes IPAM allocates pod addresses from.
func (n *node) createNode() error {
	ctx := context.Background()
	nd := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: nodeName, Labels: map[string]string{
			"kubernetes.io/hostname": nodeName, "kubernetes.io/os": "linux",
		}},
		Spec: corev1.NodeSpec{PodCIDR: podCIDR, PodCIDRs: []string{podCIDR}},
	}
	created, err := n.cs.CoreV1().Nodes().Create(ctx, nd, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create node %s: %w", nodeName, err)
	}
	created.Status.Addresses = []corev1.NodeAddress{
		{Type: corev1.NodeInternalIP, Address: nodeExtIP}, {Type: corev1.NodeHostName, Address: nodeName},
	}
	created.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Now()}}
	if _, err := n.cs.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("set node %s status: %w", nodeName, err)
	}
	return nil
}

// createWorld makes the outside: a namespace joined to the node by the veth
// that is the agent's only device, with an address outside the cluster.
// The node's default route points there, as a node's points to its
// uplink: kube-apiserver picks its advertised address from it, and
// nothing routed there can reach this machine's networks.
func createWorld() error {
	steps := [][]string{
		{"netns", "add", worldNetns},
		{"link", "add", extDevice, "type", "veth", "peer", "name", "eth0", "netns", worldNetns},
		{"addr", "add", nodeExtIP + "/24", "dev", extDevice},
		{"link", "set", extDevice, "up"},
		{"-n", worldNetns, "link", "set", "lo", "up"},
		{"-n", worldNetns, "addr", "add", worldIP + "/24", "dev", "eth0"},
		{"-n", worldNetns, "link", "set", "eth0", "up"},
		{"-n", worldNetns, "route", "add", nativeCIDR, "via", nodeExtIP},
		{"route", "add", "default", "via", worldIP, "dev", extDevice},
	}
	for _, s := range steps {
		if out, err := exec.Command("ip", s...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(s, " "), err, out)
		}
	}
	return nil
}

func removeWorld() {
	_ = exec.Command("ip", "link", "del", extDevice).Run()
	_ = exec.Command("ip", "netns", "del", worldNetns).Run()
}

// stop ends everything the suite started, newest first, saving Hubble's
// flows first when a test failed; a passing run leaves no artifacts.
func (n *node) stop(failed bool) {
	if failed && n.agent != nil {
		n.dumpFlows(filepath.Join(n.work, "hubble-flows.json"))
	}
	n.mu.Lock()
	pods := make([]*pod, 0, len(n.pods))
	for _, p := range n.pods {
		pods = append(pods, p)
	}
	n.mu.Unlock()
	for _, p := range pods {
		if err := p.remove(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e/local: removing pod %s: %v\n", p.key(), err)
		}
	}
	if n.world != nil {
		n.world.stopProcs()
	}
	if n.agent != nil {
		n.agent.stop()
	}
	for i := len(n.cleanups) - 1; i >= 0; i-- {
		n.cleanups[i]()
	}
	if failed {
		fmt.Fprintf(os.Stderr, "e2e/local: FAILED: the agent's log, Hubble's flows, the policies and the apps' logs are in %s\n", n.work)
		return
	}
	_ = os.RemoveAll(n.work)
}

// dumpFlows saves the agent's flow buffer with the hubble CLI.
func (n *node) dumpFlows(path string) {
	if n.bin.hubble == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, n.bin.hubble, "observe", "--server", hubbleAddr, "--last", "50000", "-o", "jsonpb").Output()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e/local: saving Hubble's flows: %v\n", err)
	}
	_ = os.WriteFile(path, out, 0o644)
}

// ensureNamespace creates a namespace with labels and its default
// ServiceAccount, which the service account admission of Pods requires and
// which no controller creates here.
func (n *node) ensureNamespace(t *testing.T, name string, labels map[string]string) {
	t.Helper()
	ctx := context.Background()
	_, err := n.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	_, err = n.cs.CoreV1().ServiceAccounts(name).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create the default service account of %s: %v", name, err)
	}
}

// setDNS points a name at addresses (or removes it with none) in the
// cluster DNS pod's records.
func (n *node) setDNS(name string, ips ...string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(ips) == 0 {
		delete(n.dnsNames, name)
	} else {
		n.dnsNames[name] = ips
	}
	var b strings.Builder
	for k, v := range n.dnsNames {
		fmt.Fprintf(&b, "%s %s\n", k, strings.Join(v, ","))
	}
	tmp := n.records + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, n.records)
}

// startDNS runs the cluster's DNS server as a kube-system pod labelled as
// kube-dns is, answering the names setDNS gives it.
func (n *node) startDNS(t *testing.T) error {
	n.records = filepath.Join(n.work, "dns-records")
	if err := n.setDNS(partnerName, worldIP); err != nil {
		return err
	}
	n.ensureNamespace(t, "kube-system", nil)
	p, err := n.addPod(t, deployment{namespace: "kube-system", name: "coredns", labels: map[string]string{"k8s-app": "kube-dns"}})
	if err != nil {
		return err
	}
	n.dns = p
	p.start(t, "dns", "dns", "--listen", ":53", "--records", n.records)
	// The partner, the outside service, answers in the world namespace.
	n.world.start(t, "partner", "serve", "--http", ":8443", "--name", "partner")
	return waitFor(60*time.Second, "the DNS pod and the partner to answer", func() error {
		_, err := n.hostExec(10*time.Second, "get", "--dns", p.ip+":53", "--timeout", "2s", "http://"+partnerName+":8443/")
		return err
	})
}

// waitFor retries check until it succeeds or the time is up, and returns
// the last error with what it was waiting for.
func waitFor(limit time.Duration, what string, check func() error) error {
	deadline := time.Now().Add(limit)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waited %s for %s: %w", limit, what, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// logf logs with the time, so the output shows how long each step took.
func logf(t *testing.T, format string, args ...any) {
	t.Helper()
	t.Logf("%s "+format, append([]any{time.Now().UTC().Format("15:04:05")}, args...)...)
}

func writeKubeconfig(env *testenv.Env, path string) (string, error) {
	cfg := env.Config
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Config\ncurrent-context: e2e-local\n")
	fmt.Fprintf(&b, "clusters:\n- name: e2e-local\n  cluster:\n    server: %s\n    certificate-authority-data: %s\n", cfg.Host, b64(cfg.CAData))
	fmt.Fprintf(&b, "users:\n- name: admin\n  user:\n")
	if len(cfg.CertData) > 0 {
		fmt.Fprintf(&b, "    client-certificate-data: %s\n    client-key-data: %s\n", b64(cfg.CertData), b64(cfg.KeyData))
	}
	if cfg.BearerToken != "" {
		fmt.Fprintf(&b, "    token: %s\n", cfg.BearerToken)
	}
	fmt.Fprintf(&b, "contexts:\n- name: e2e-local\n  context:\n    cluster: e2e-local\n    user: admin\n")
	return path, os.WriteFile(path, []byte(b.String()), 0o600)
}

// readLines returns a file's lines, for scanning logs.
func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out, sc.Err()
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
