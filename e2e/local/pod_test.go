//go:build e2elocal

package local

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
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
)

// deployment is one rollout of a workload: its pods carry the labels a
// Deployment gives them, pod-template-hash included.
type deployment struct {
	namespace, name string
	labels          map[string]string
	hash            string // pod-template-hash; random when empty
}

// pod is a Pod object bound to the node plus a network namespace that the
// real cilium-cni plumbed, as a kubelet and container runtime would.
type pod struct {
	node        *node
	namespace   string
	name        string
	labels      map[string]string
	netns       string
	containerID string
	ip          string
	mu          sync.Mutex
	procs       []*proc
	removed     bool
}

func (p *pod) key() string { return p.namespace + "/" + p.name }

func randomHex(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// addPod creates one pod of the deployment and plumbs its network.
func (n *node) addPod(t *testing.T, d deployment) (*pod, error) {
	t.Helper()
	hash := d.hash
	if hash == "" {
		hash = randomHex(10)
	}
	labels := map[string]string{"pod-template-hash": hash}
	for k, v := range d.labels {
		labels[k] = v
	}
	p := &pod{
		node: n, namespace: d.namespace, name: d.name + "-" + hash + "-" + randomHex(5), labels: labels,
		netns: "npgp-" + randomHex(8), containerID: randomHex(64),
	}
	n.mu.Lock()
	n.pods[p.key()] = p
	n.mu.Unlock()
	ctx := context.Background()
	obj := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: p.namespace, Name: p.name, Labels: labels},
		Spec: corev1.PodSpec{
			NodeName:           nodeName,
			ServiceAccountName: "default",
			Containers:         []corev1.Container{{Name: "app", Image: "netpolgen.invalid/e2eapp"}},
		},
	}
	if _, err := n.cs.CoreV1().Pods(p.namespace).Create(ctx, obj, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("create pod %s: %w", p.key(), err)
	}
	if out, err := exec.Command("ip", "netns", "add", p.netns).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("ip netns add %s: %v: %s", p.netns, err, out)
	}
	if out, err := exec.Command("ip", "-n", p.netns, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("lo up in %s: %v: %s", p.netns, err, out)
	}
	res, err := n.cni(p, "ADD")
	if err != nil {
		return nil, err
	}
	var result struct {
		IPs []struct {
			Address string `json:"address"`
		} `json:"ips"`
	}
	if err := json.Unmarshal(res, &result); err != nil || len(result.IPs) == 0 {
		return nil, fmt.Errorf("cilium-cni ADD for %s returned no address (%v): %s", p.key(), err, res)
	}
	ip, _, err := net.ParseCIDR(result.IPs[0].Address)
	if err != nil {
		return nil, fmt.Errorf("cilium-cni ADD for %s: address %q: %w", p.key(), result.IPs[0].Address, err)
	}
	p.ip = ip.String()
	// Report the pod running with its address, as the kubelet does.
	cur, err := n.cs.CoreV1().Pods(p.namespace).Get(ctx, p.name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	cur.Status.Phase = corev1.PodRunning
	cur.Status.PodIP = p.ip
	cur.Status.PodIPs = []corev1.PodIP{{IP: p.ip}}
	cur.Status.HostIP = nodeExtIP
	cur.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	if _, err := n.cs.CoreV1().Pods(p.namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{}); err != nil {
		return nil, fmt.Errorf("set pod %s running: %w", p.key(), err)
	}
	logf(t, "pod %s at %s (netns %s)", p.key(), p.ip, p.netns)
	return p, nil
}

// cni invokes cilium-cni as a container runtime does.
func (n *node) cni(p *pod, command string) ([]byte, error) {
	conf := fmt.Sprintf(`{"cniVersion":"0.3.1","name":"cilium","type":"cilium-cni","log-file":%q}`, filepath.Join(n.work, "cilium-cni.log"))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, n.bin.cni)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"CNI_COMMAND=" + command,
		"CNI_CONTAINERID=" + p.containerID,
		"CNI_NETNS=/run/netns/" + p.netns,
		"CNI_IFNAME=eth0",
		"CNI_PATH=" + filepath.Dir(n.bin.cni),
		// IgnoreUnknown: cilium-cni rejects arguments it has no field
		// for, and kubelets send K8S_POD_INFRA_CONTAINER_ID.
		fmt.Sprintf("CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=%s;K8S_POD_NAME=%s;K8S_POD_INFRA_CONTAINER_ID=%s", p.namespace, p.name, p.containerID),
	}
	cmd.Stdin = strings.NewReader(conf)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("cilium-cni %s for %s: %v: %s %s", command, p.key(), err, out, stderr.String())
	}
	return out, nil
}

// start runs an e2eapp subcommand inside the pod until the pod goes.
func (p *pod) start(t *testing.T, logName string, args ...string) *proc {
	t.Helper()
	log := filepath.Join(p.node.work, "logs", p.name+"-"+logName+".log")
	pr, err := startProc(log, nil, "ip", append([]string{"netns", "exec", p.netns, p.node.bin.app}, args...)...)
	if err != nil {
		t.Fatalf("start %s in %s: %v", logName, p.key(), err)
	}
	p.mu.Lock()
	p.procs = append(p.procs, pr)
	p.mu.Unlock()
	return pr
}

// exec runs an e2eapp subcommand inside the pod to completion.
func (p *pod) exec(limit time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", p.netns, p.node.bin.app}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s in %s: %v: %s", strings.Join(args, " "), p.key(), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// hostExec runs an e2eapp subcommand in the node's own namespace.
func (n *node) hostExec(limit time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, n.bin.app, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s on the node: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

func (p *pod) stopProcs() {
	p.mu.Lock()
	procs := p.procs
	p.procs = nil
	p.mu.Unlock()
	for _, pr := range procs {
		pr.stop()
	}
}

// remove ends the pod's processes, runs CNI DEL, deletes its namespace and
// its Pod object, as a kubelet does when a pod goes.
func (p *pod) remove() error {
	p.mu.Lock()
	if p.removed {
		p.mu.Unlock()
		return nil
	}
	p.removed = true
	p.mu.Unlock()
	p.stopProcs()
	var errs []string
	if p.ip != "" {
		if _, err := p.node.cni(p, "DEL"); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if out, err := exec.Command("ip", "netns", "del", p.netns).CombinedOutput(); err != nil && !strings.Contains(string(out), "No such file") {
		errs = append(errs, fmt.Sprintf("ip netns del %s: %v: %s", p.netns, err, out))
	}
	zero := int64(0)
	err := p.node.cs.CoreV1().Pods(p.namespace).Delete(context.Background(), p.name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	if err != nil && !apierrors.IsNotFound(err) {
		errs = append(errs, err.Error())
	}
	p.node.mu.Lock()
	delete(p.node.pods, p.key())
	p.node.mu.Unlock()
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// proc is a process the suite started; it is only ever ended by its PID.
type proc struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

func startProc(log string, env []string, name string, args ...string) (*proc, error) {
	if err := os.MkdirAll(filepath.Dir(log), 0o755); err != nil {
		return nil, err
	}
	f, err := os.Create(log)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if env != nil {
		cmd.Env = env
	}
	// The process dies with the suite even if the suite is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	p := &proc{cmd: cmd, log: log, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process by its PID, then SIGKILL after ten
// seconds.
func (p *proc) stop() {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}
