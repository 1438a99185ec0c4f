package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netpolgen/netpolgen/internal/flowgen"
	"github.com/netpolgen/netpolgen/internal/learnopts"
	"github.com/netpolgen/netpolgen/internal/sharedflows"
	"github.com/netpolgen/netpolgen/pkg/observe"
)

// releasesScenario is bookinfo's shape in small: reviews runs two
// releases, labelled version=v1 and v2, and only v2 calls ratings. Learned
// with --keep-labels version, each release gets its own policy; judged
// without that option, reviews is one workload whose v1 pods are not
// allowed to reach ratings.
func releasesScenario() *flowgen.Scenario {
	s := &flowgen.Scenario{Name: "releases", Nodes: []string{"node-a"}, DNS: -1}
	add := func(name string, labels map[string]string) flowgen.Peer {
		s.Workloads = append(s.Workloads, flowgen.Workload{Namespace: "bookinfo", Name: name, Labels: labels, Kind: "Deployment", Replicas: 1})
		return flowgen.Peer{Kind: flowgen.PeerWorkload, Workload: len(s.Workloads) - 1}
	}
	productpage := add("productpage", map[string]string{"app": "productpage"})
	reviews1 := add("reviews-v1", map[string]string{"app": "reviews", "version": "v1"})
	reviews2 := add("reviews-v2", map[string]string{"app": "reviews", "version": "v2"})
	ratings := add("ratings", map[string]string{"app": "ratings"})
	tcp := observe.ProtoTCP
	s.Calls = []flowgen.Call{
		{From: productpage, To: reviews1, Protocol: tcp, Port: 9080, PerHour: 60},
		{From: productpage, To: reviews2, Protocol: tcp, Port: 9080, PerHour: 60},
		{From: reviews2, To: ratings, Protocol: tcp, Port: 9080, PerHour: 60},
	}
	return s
}

func writeCapture(t *testing.T, s *flowgen.Scenario) string {
	t.Helper()
	var buf bytes.Buffer
	if _, err := flowgen.Generate(s, flowgen.Options{Seed: 5, Duration: 30 * time.Minute}, &buf); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "capture.json")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// The repro: policies learned with --keep-labels version are
// judged by diff, verify and drift with the same option, read from the
// options file learn wrote; a flag given explicitly still wins.
func TestLearnOptionsTravelWithPolicies(t *testing.T) {
	t.Run("flowgen", func(t *testing.T) {
		checkOptionsTravel(t, []string{writeCapture(t, releasesScenario())})
	})
	t.Run("bookinfo", func(t *testing.T) {
		dir := filepath.Join(sharedflows.Dir(t), "bookinfo-kind")
		paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
		if err != nil || len(paths) == 0 {
			t.Skipf("no bookinfo captures in %s", dir)
		}
		checkOptionsTravel(t, paths)
	})
}

func checkOptionsTravel(t *testing.T, captures []string) {
	var from []string
	for _, c := range captures {
		from = append(from, "--from-file", c)
	}
	out, empty := t.TempDir(), t.TempDir()
	if code, stdout, stderr := run(t, "", append([]string{"learn", "--keep-labels", "version", "--out", out}, from...)...); code != 0 {
		t.Fatalf("learn: exit %d\n%s\n%s", code, stdout, stderr)
	}
	data, err := os.ReadFile(filepath.Join(out, learnopts.FileName))
	if err != nil {
		t.Fatalf("learn wrote no options file: %v", err)
	}
	if !strings.Contains(string(data), `"keep_labels": [`+"\n"+`    "version"`) {
		t.Errorf("options file does not record --keep-labels version:\n%s", data)
	}
	kustomization, err := os.ReadFile(filepath.Join(out, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(kustomization), learnopts.FileName) {
		t.Errorf("kustomization.yaml lists the options file as a resource:\n%s", kustomization)
	}

	code, stdout, stderr := run(t, "", append([]string{"diff", "--policies", out, "--against", empty}, from...)...)
	if !strings.Contains(stdout, " 0 newly denied") {
		t.Errorf("diff (exit %d) does not agree with verify:\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, learnopts.FileName) {
		t.Errorf("diff does not say it used %s:\n%s", learnopts.FileName, stderr)
	}
	code, stdout, stderr = run(t, "", append([]string{"verify", "--policies", out}, from...)...)
	if code != 0 {
		t.Errorf("verify: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if strings.Contains(stdout, " 0 NetworkPolicies and 0 CiliumNetworkPolicies") {
		t.Errorf("verify read no policies:\n%s", stdout)
	}
	reports := t.TempDir()
	code, stdout, stderr = run(t, "", append([]string{"drift", "--once", "--policies", out, "--report-dir", reports, "--metrics-addr", ""}, from...)...)
	if code != 0 {
		t.Errorf("drift --once: exit %d (uncovered traffic under the learn options?)\n%s\n%s", code, stdout, stderr)
	}

	// An explicit flag wins over the file: without the version label,
	// reviews is one workload, and its v1 pods may not reach ratings.
	_, stdout, stderr = run(t, "", append([]string{"diff", "--policies", out, "--against", empty, "--keep-labels="}, from...)...)
	if !strings.Contains(stdout, "1 newly denied") || !strings.Contains(stdout, "reviews -> bookinfo/ratings") {
		t.Errorf("diff --keep-labels= should judge reviews as one workload and deny it ratings:\n%s\n%s", stdout, stderr)
	}
	code, stdout, _ = run(t, "", append([]string{"verify", "--policies", out, "--keep-labels="}, from...)...)
	if code != 1 || !strings.Contains(stdout, "DENIED bookinfo/reviews -> bookinfo/ratings") {
		t.Errorf("verify --keep-labels= (exit %d) disagrees with diff:\n%s", code, stdout)
	}
}

// A policy directory's options file from a newer netpolgen is refused by
// every command that reads it, naming the file and the version; a
// malformed one names the file and the cause.
func TestLearnOptionsFileErrors(t *testing.T) {
	capture := writeCapture(t, releasesScenario())
	out := t.TempDir()
	if code, stdout, stderr := run(t, "", "learn", "--from-file", capture, "--out", out); code != 0 {
		t.Fatalf("learn: exit %d\n%s\n%s", code, stdout, stderr)
	}
	path := filepath.Join(out, learnopts.FileName)
	for _, tc := range []struct{ name, data, want string }{
		{"newer", `{"version": 9, "keep_labels": ["version"]}`, "version 9 was written by a newer netpolgen"},
		{"malformed", `{"version": 1, "keep_labels": "version"}`, "malformed: json: cannot unmarshal string"},
	} {
		if err := os.WriteFile(path, []byte(tc.data), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{
			{"verify", "--policies", out, "--from-file", capture},
			{"diff", "--policies", out, "--against", t.TempDir(), "--from-file", capture},
			{"drift", "--once", "--policies", out, "--from-file", capture, "--report-dir", t.TempDir(), "--metrics-addr", ""},
		} {
			code, _, stderr := run(t, "", args...)
			if code != 2 || !strings.Contains(stderr, path) || !strings.Contains(stderr, tc.want) {
				t.Errorf("%s file, %s: exit %d, stderr %q; want exit 2 naming %s and saying %q", tc.name, args[0], code, stderr, path, tc.want)
			}
		}
	}
}
