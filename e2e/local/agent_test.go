//go:build e2elocal

package local

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"go/build"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// binaries the suite runs.
type binaries struct {
	agent, cni string // built by `make cilium-bin` into the tools cache
	hubble     string // built by `make hubble`
	netpolgen  string // built from ./cmd/netpolgen by the suite
	app        string // built from ./e2e/local/cmd/e2eapp by the suite
	toolDir    string // clang and llc for the agent, and nothing else
}

// agentSocket is where the agent serves its REST API: its default
// (defaults.SockPath), which agentFlags leaves alone.
const agentSocket = "/var/run/cilium/cilium.sock"

// agentFlags are cilium-agent's flags; README.md says why each is there.
func agentFlags(kubeconfig, libDir string) []string {
	return []string{
		"--k8s-kubeconfig-path=" + kubeconfig,
		"--devices=" + extDevice,
		"--ipam=kubernetes",
		"--k8s-require-ipv4-pod-cidr=true",
		"--identity-allocation-mode=crd",
		"--enable-ipv4=true",
		"--enable-ipv6=false",
		"--routing-mode=native",
		"--ipv4-native-routing-cidr=" + nativeCIDR,
		"--enable-ipv4-masquerade=false",
		"--install-iptables-rules=false",
		"--kube-proxy-replacement=false",
		"--enable-health-checking=false",
		"--enable-endpoint-health-checking=false",
		"--enable-hubble=true",
		"--hubble-listen-address=" + hubbleAddr,
		"--hubble-disable-tls=true",
		"--hubble-event-buffer-capacity=65535",
		"--enable-l7-proxy=true",
		"--enable-bpf-tproxy=true",
		"--lib-dir=" + libDir,
		"--bpf-root=/sys/fs/bpf",
	}
}

// findBinaries locates the prebuilt Cilium and hubble binaries, builds
// netpolgen and the demo app, and gives the agent clang and llc.
func findBinaries(t *testing.T, work string) (binaries, error) {
	var b binaries
	root, err := repoRoot()
	if err != nil {
		return b, err
	}
	version, err := ciliumVersion(root)
	if err != nil {
		return b, err
	}
	cache := os.Getenv("TOOLS_CACHE")
	if cache == "" {
		cache = filepath.Join(build.Default.GOPATH, "netpolgen-tools")
	}
	ciliumDir := filepath.Join(cache, "cilium-"+version)
	b.agent, b.cni = filepath.Join(ciliumDir, "cilium-agent"), filepath.Join(ciliumDir, "cilium-cni")
	for _, f := range []string{b.agent, b.cni} {
		if _, err := os.Stat(f); err != nil {
			return b, fmt.Errorf("%s is missing: run `make cilium-bin` (make e2e-local does)", f)
		}
	}
	if h := filepath.Join(cache, "hubble-"+version); fileExists(h) {
		b.hubble = h
	} else {
		return b, fmt.Errorf("%s is missing: run `make hubble` (make e2e-local does)", h)
	}
	binDir := filepath.Join(work, "bin")
	build := map[string]string{"netpolgen": "./cmd/netpolgen", "e2eapp": "./e2e/local/cmd/e2eapp"}
	b.netpolgen, b.app = filepath.Join(binDir, "netpolgen"), filepath.Join(binDir, "e2eapp")
	// NETPOLGEN_BIN runs the suite against another netpolgen binary
	// (a release, or an older commit to show a regression test fails).
	if other := os.Getenv("NETPOLGEN_BIN"); other != "" {
		delete(build, "netpolgen")
		b.netpolgen = other
		logf(t, "netpolgen under test: %s (NETPOLGEN_BIN)", other)
	}
	for name, pkg := range build {
		cmd := exec.Command("go", "build", "-o", filepath.Join(binDir, name), pkg)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return b, fmt.Errorf("go build %s: %v: %s", pkg, err, out)
		}
	}
	b.toolDir = filepath.Join(work, "agent-tools")
	if err := os.MkdirAll(b.toolDir, 0o755); err != nil {
		return b, err
	}
	llvm, err := findLLVM()
	if err != nil {
		return b, err
	}
	for _, tool := range []string{"clang", "llc"} {
		if err := os.Symlink(filepath.Join(llvm, tool), filepath.Join(b.toolDir, tool)); err != nil {
			return b, err
		}
	}
	logf(t, "cilium-agent and cilium-cni %s from %s; LLVM from %s", version, ciliumDir, llvm)
	return b, nil
}

// findLLVM returns the bin directory of an LLVM new enough for Cilium's
// BPF programs: LLVM_DIR, else Debian's llvm-19 (or newer).
func findLLVM() (string, error) {
	if d := os.Getenv("LLVM_DIR"); d != "" {
		return d, nil
	}
	for _, v := range []string{"21", "20", "19"} {
		d := "/usr/lib/llvm-" + v + "/bin"
		if fileExists(filepath.Join(d, "clang")) && fileExists(filepath.Join(d, "llc")) {
			return d, nil
		}
	}
	return "", errors.New("no clang and llc of LLVM 19 or newer in /usr/lib/llvm-*/bin: run `make e2e-local-deps` (apt-get install clang-19 llvm-19), or set LLVM_DIR")
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if fileExists(filepath.Join(dir, "tools", "cilium", "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no tools/cilium/go.mod above the working directory")
		}
		dir = parent
	}
}

// ciliumVersion is the cilium version go.mod requires.
func ciliumVersion(root string) (string, error) {
	lines, err := readLines(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", err
	}
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == "github.com/cilium/cilium" {
			return f[1], nil
		}
	}
	return "", errors.New("go.mod does not require github.com/cilium/cilium")
}

// ciliumModuleDir is the cilium module's directory in the module cache.
func ciliumModuleDir() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/cilium/cilium").Output()
	if err != nil {
		return "", fmt.Errorf("go list -m github.com/cilium/cilium: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// startAgent runs cilium-agent on the node and waits until it has
// initialised and Hubble answers.
func (n *node) startAgent(t *testing.T) error {
	mod, err := ciliumModuleDir()
	if err != nil {
		return err
	}
	// The agent compiles its BPF programs from bpf/ under its lib-dir;
	// the module cache is read-only, so it gets a copy of its own.
	libDir := filepath.Join(n.work, "cilium-lib")
	if err := os.MkdirAll(libDir, 0o755); err != nil {
		return err
	}
	if out, err := exec.Command("cp", "-r", filepath.Join(mod, "bpf"), libDir).CombinedOutput(); err != nil {
		return fmt.Errorf("copy the agent's BPF sources: %v: %s", err, out)
	}
	if out, err := exec.Command("chmod", "-R", "u+w", libDir).CombinedOutput(); err != nil {
		return fmt.Errorf("chmod %s: %v: %s", libDir, err, out)
	}
	env := []string{
		"PATH=" + n.bin.toolDir + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + n.work,
		"K8S_NODE_NAME=" + nodeName,
	}
	flags := agentFlags(n.kubeconfig, libDir)
	logf(t, "starting cilium-agent %s", strings.Join(flags, " "))
	began := time.Now()
	n.agent, err = startProc(filepath.Join(n.work, "cilium-agent.log"), env, n.bin.agent, flags...)
	if err != nil {
		return err
	}
	// The agent's state outside /run (private to the suite): its cgroup2
	// and bpffs mounts and the links it creates go with the namespaces.
	err = waitFor(4*time.Minute, "cilium-agent to initialise", func() error {
		if n.agent.exited() {
			return fmt.Errorf("cilium-agent exited (%v); last lines of its log:\n%s", n.agent.err, tail(n.agent.log, 30))
		}
		if !logHas(n.agent.log, "Daemon initialization completed") {
			return errors.New("no \"Daemon initialization completed\" in its log yet")
		}
		c, err := net.DialTimeout("tcp", hubbleAddr, time.Second)
		if err != nil {
			return fmt.Errorf("hubble at %s: %w", hubbleAddr, err)
		}
		return c.Close()
	})
	if err != nil {
		if n.agent.exited() {
			return err
		}
		return fmt.Errorf("%w; last lines of its log:\n%s", err, tail(n.agent.log, 30))
	}
	logf(t, "cilium-agent initialised in %s; Hubble serves on %s", time.Since(began).Round(time.Second), hubbleAddr)
	return nil
}

func logHas(path, s string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			return true
		}
	}
	return false
}

func tail(path string, n int) string {
	lines, _ := readLines(path)
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// observe returns Hubble's recent flows matching the hubble CLI filter
// flags, as jsonpb lines.
func (n *node) observe(ctx context.Context, filter ...string) (string, error) {
	args := append([]string{"observe", "--server", hubbleAddr, "-o", "jsonpb", "--last", "20000"}, filter...)
	cmd := exec.CommandContext(ctx, n.bin.hubble, args...)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		return "", fmt.Errorf("hubble %s: %v: %s", strings.Join(args, " "), err, stderr)
	}
	return string(out), nil
}
