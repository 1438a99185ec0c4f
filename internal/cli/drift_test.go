package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/netpolgen/netpolgen/internal/flowgen"
)

// TestDriftOnceAsTheE2ERunsIt is e2e/kind/run.sh's drift step on the
// bundled shop hour: policies learned from it exclude the call policy
// dropped, so drift --once reports that call as uncovered, names the
// dropped pod's workload in the Markdown report, and exits 1.
func TestDriftOnceAsTheE2ERunsIt(t *testing.T) {
	dir := t.TempDir()
	flows := filepath.Join("..", "..", "examples", "shop-flows.json.gz")
	policies := filepath.Join(dir, "policies")
	if code, _, stderr := run(t, "", "learn", "--from-file", flows, "--out", policies); code != 0 {
		t.Fatalf("learn: exit %d: %s", code, stderr)
	}
	reports := filepath.Join(dir, "drift")
	code, out, stderr := run(t, "", "drift", "--once", "--policies", policies, "--from-file", flows, "--report-dir", reports)
	if code != 1 {
		t.Fatalf("drift --once: exit %d, want 1 (uncovered traffic)\n%s\n%s", code, out, stderr)
	}
	md, err := os.ReadFile(filepath.Join(reports, "drift-report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "shop/debug-shell → data/postgresql on 5432/TCP") {
		t.Errorf("the report does not name the dropped call:\n%s", md)
	}
	// One JSON log line per new finding.
	var logged []string
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "drift finding" {
			logged = append(logged, rec["key"].(string))
		}
	}
	if !slices.Contains(logged, "uncovered/shop/debug-shell>data/postgresql/5432/TCP") {
		t.Errorf("finding log lines %v, want the dropped call's", logged)
	}
}

// TestDriftOnceCleanCaptureExitsZero learns from a capture with no
// dropped traffic and checks the same capture: nothing is uncovered.
func TestDriftOnceCleanCaptureExitsZero(t *testing.T) {
	dir := t.TempDir()
	sc := flowgen.Shop()
	sc.Calls = slices.DeleteFunc(sc.Calls, func(c flowgen.Call) bool { return c.Denied })
	var buf bytes.Buffer
	if _, err := flowgen.Generate(sc, flowgen.Options{Seed: 3, Duration: 15 * time.Minute}, &buf); err != nil {
		t.Fatal(err)
	}
	flows := filepath.Join(dir, "flows.json")
	if err := os.WriteFile(flows, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	policies := filepath.Join(dir, "policies")
	if code, _, stderr := run(t, "", "learn", "--from-file", flows, "--out", policies, "--format", "kubernetes"); code != 0 {
		t.Fatalf("learn: exit %d: %s", code, stderr)
	}
	code, out, stderr := run(t, "", "drift", "--once", "--policies", policies, "--from-file", flows, "--report-dir", filepath.Join(dir, "drift"), "--log-format", "text")
	if code != 0 {
		t.Fatalf("drift --once: exit %d, want 0\n%s\n%s", code, out, stderr)
	}
	if !strings.Contains(out, "0 uncovered, 0 stale, 0 unprotected") {
		t.Errorf("summary %q", out)
	}
}

func TestDriftFlagErrors(t *testing.T) {
	empty := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"drift", "--once", "--from-file", "x.json"}, "--policies DIR or --cluster"},
		{[]string{"drift", "--policies", "p", "--cluster", "--once"}, "--policies DIR or --cluster"},
		{[]string{"drift", "--policies", "p", "--from-file", "x.json"}, "add --once"},
		{[]string{"drift", "--policies", "p", "--from-file", "x.json", "--once", "--server", "h:1"}, "not both"},
		{[]string{"drift", "--policies", "p", "--from-file", "x.json", "--once", "--stale-after", "soon"}, "--stale-after"},
		{[]string{"drift", "--policies", "p", "--from-file", "x.json", "--once", "--log-format", "xml"}, "--log-format"},
		{[]string{"drift", "--policies", "does-not-exist", "--from-file", "x.json", "--once"}, "does-not-exist"},
		{[]string{"drift", "--policies", empty, "--from-file", "missing.json", "--once", "--report-dir", filepath.Join(empty, "r")}, "missing.json"},
	} {
		code, _, stderr := run(t, "", tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 mentioning %q", tc.args, code, stderr, tc.want)
		}
	}
}

func TestParseDays(t *testing.T) {
	for in, want := range map[string]time.Duration{"7d": 7 * 24 * time.Hour, "36h": 36 * time.Hour, "90m": 90 * time.Minute} {
		if got, err := parseDays(in); err != nil || got != want {
			t.Errorf("parseDays(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0d", "-1d", "xd", "-5m", "week"} {
		if _, err := parseDays(bad); err == nil {
			t.Errorf("parseDays(%q) accepted", bad)
		}
	}
}

// TestDriftFollowsAReplay runs drift live against `netpolgen replay` of
// the bundled shop hour and stops it with an interrupt: the JSON report
// names the dropped call, and the state checkpoint is written on exit.
func TestDriftFollowsAReplay(t *testing.T) {
	dir := t.TempDir()
	flows := filepath.Join("..", "..", "examples", "shop-flows.json.gz")
	policies := filepath.Join(dir, "policies")
	if code, _, stderr := run(t, "", "learn", "--from-file", flows, "--out", policies); code != 0 {
		t.Fatalf("learn: exit %d: %s", code, stderr)
	}
	addr := startReplayCommand(t, flows)
	reports, state := filepath.Join(dir, "drift"), filepath.Join(dir, "state.json")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errOut := &lockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, Streams{In: strings.NewReader(""), Out: &bytes.Buffer{}, Err: errOut}, []string{"drift",
			"--server", addr, "--since", "2026-01-01T00:00:00Z", "--policies", policies, "--interval", "100ms",
			"--report-dir", reports, "--state", state, "--metrics-addr", ""})
	}()
	var rep struct {
		Source    struct{ Connected bool }
		Uncovered []struct{ Key string }
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no report with the dropped call in 30s:\n%s", errOut.String())
		}
		data, err := os.ReadFile(filepath.Join(reports, "drift-report.json"))
		if err == nil && json.Unmarshal(data, &rep) == nil && len(rep.Uncovered) > 0 {
			break
		}
	}
	if !rep.Source.Connected || rep.Uncovered[0].Key != "uncovered/shop/debug-shell>data/postgresql/5432/TCP" {
		t.Errorf("live report: %+v", rep)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("drift exited %d after interrupt, want 0:\n%s", code, errOut.String())
	}
	if _, err := os.Stat(state); err != nil {
		t.Errorf("no checkpoint on exit: %v", err)
	}
}

// TestDriftClusterKubeconfigErrors: drift --cluster resolves the
// kubeconfig as learn and diff do, and its errors name the file, the
// contexts there are, and drift's own flags.
func TestDriftClusterKubeconfigErrors(t *testing.T) {
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "config")
	const twoContexts = `apiVersion: v1
kind: Config
current-context: alpha
clusters:
- name: down
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: someone
  user: {token: x}
contexts:
- name: alpha
  context: {cluster: down, user: someone}
- name: beta
  context: {cluster: down, user: someone}
`
	if err := os.WriteFile(kubeconfig, []byte(twoContexts), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "absent")
	for _, tc := range []struct {
		flags []string
		want  []string
	}{
		{[]string{"--kubeconfig", missing}, []string{"kubeconfig " + missing, "--kubeconfig"}},
		{[]string{"--kubeconfig", kubeconfig, "--kube-context", "gamma"}, []string{`context "gamma" is not in kubeconfig ` + kubeconfig, "alpha, beta", "use --kube-context"}},
	} {
		args := append([]string{"drift", "--log-format", "text", "--cluster", "--once", "--from-file", "x.json", "--report-dir", filepath.Join(dir, "r")}, tc.flags...)
		code, _, stderr := run(t, "", args...)
		if code == 0 {
			t.Errorf("%v: exit 0", tc.flags)
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%v: stderr %q does not mention %q", tc.flags, stderr, w)
			}
		}
	}
}
