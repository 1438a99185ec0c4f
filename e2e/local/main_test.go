//go:build e2elocal

package local

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// insideEnv is set, to the node namespace's name, in the copy of the test
// binary that runs inside the node's network and mount namespaces.
const insideEnv = "NETPOLGEN_E2E_LOCAL_NODE"

// nodePrefix names the network namespaces this suite creates as nodes.
const nodePrefix = "npg-e2e-"

// The suite's control plane, agent and pods run in a network namespace of
// their own (the "node"), entered with `ip netns exec`, which also gives
// the process a private mount namespace. The agent never sees this
// machine's interfaces, and its mounts (bpffs, tmpfs on /run) and sysctls
// (per network namespace) vanish with that namespace.
func TestMain(m *testing.M) {
	if os.Getenv(insideEnv) != "" {
		os.Exit(nodeMain(m))
	}
	if reason := datapathUnavailable(); reason != "" {
		os.Exit(skipAll(m, reason))
	}
	os.Exit(runInNode(m))
}

// skipEnv carries, within this process, why the host cannot run a
// datapath, for requireNode to say.
const skipEnv = "NETPOLGEN_E2E_LOCAL_SKIP"

// skipAll runs the tests so that each skips, saying why.
func skipAll(m *testing.M, reason string) int {
	fmt.Println("e2e/local: the host cannot run a Cilium datapath:", reason)
	os.Setenv(skipEnv, reason)
	return m.Run()
}

// requireNode skips the test with the reason when the host cannot run a
// datapath; everything else about the host is a failure, not a skip.
func requireNode(t *testing.T) {
	t.Helper()
	if os.Getenv(insideEnv) == "" {
		t.Skip("the host cannot run a Cilium datapath: " + os.Getenv(skipEnv))
	}
}

// datapathUnavailable says why this host cannot run cilium-agent, or "".
func datapathUnavailable() string {
	if os.Geteuid() != 0 {
		return "not root (cilium-agent loads BPF programs and creates network namespaces; run as root)"
	}
	fss, err := os.ReadFile("/proc/filesystems")
	if err != nil {
		return "cannot read /proc/filesystems: " + err.Error()
	}
	for _, fs := range []string{"bpf", "cgroup2"} {
		if !strings.Contains(string(fss), "\t"+fs+"\n") {
			return fmt.Sprintf("the kernel has no %s filesystem (/proc/filesystems)", fs)
		}
	}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		return "the kernel exposes no BTF (/sys/kernel/btf/vmlinux: " + err.Error() + ")"
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return "iproute2's ip is not on PATH (make e2e-local-deps installs it)"
	}
	return ""
}

// runInNode creates the node namespace, runs this test binary again inside
// it, and deletes the namespace afterwards whatever happened inside.
func runInNode(m *testing.M) int {
	removeStaleNodes()
	name := nodePrefix + strconv.Itoa(os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		// Root without the privilege to make namespaces (a container
		// without CAP_SYS_ADMIN) cannot run a datapath either.
		if strings.Contains(string(out), "Operation not permitted") || strings.Contains(string(out), "Permission denied") {
			return skipAll(m, fmt.Sprintf("cannot create a network namespace (ip netns add: %s)", strings.TrimSpace(string(out))))
		}
		fmt.Fprintf(os.Stderr, "e2e/local: ip netns add %s: %v: %s\n", name, err, out)
		return 1
	}
	defer func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e/local: ip netns del %s: %v: %s\n", name, err, out)
		}
	}()
	cmd := exec.Command("ip", append([]string{"netns", "exec", name, os.Args[0]}, os.Args[1:]...)...)
	cmd.Env = append(os.Environ(), insideEnv+"="+name)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e/local: %v\n", err)
		return 1
	}
	// Pass interrupts on, so the inner suite cleans up before it exits.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	if err := cmd.Wait(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() > 0 {
			return ee.ExitCode()
		}
		fmt.Fprintf(os.Stderr, "e2e/local: the suite inside %s: %v\n", name, err)
		return 1
	}
	return 0
}

// removeStaleNodes deletes node namespaces an earlier run of this suite
// left behind because its process was killed. Only names with this
// suite's prefix whose creating process is gone are touched.
func removeStaleNodes() {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || !strings.HasPrefix(fields[0], nodePrefix) {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimPrefix(fields[0], nodePrefix))
		if err != nil {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			continue // a run in progress
		}
		_ = exec.Command("ip", "netns", "del", fields[0]).Run()
	}
}
