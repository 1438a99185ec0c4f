package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netpolgen/netpolgen/internal/flowgen"
)

// l7Capture writes half an hour of the L7 scenario to a file.
func l7Capture(t *testing.T) string {
	t.Helper()
	var buf bytes.Buffer
	if _, err := flowgen.Generate(flowgen.L7(), flowgen.Options{Seed: 9, Duration: 30 * time.Minute}, &buf); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "l7.json")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLearnL7WritesVerifiedRules(t *testing.T) {
	capture := l7Capture(t)
	out := t.TempDir()
	code, stdout, stderr := run(t, "", "learn", "--from-file", capture, "--l7", "--exclude-namespace", "kube-system", "--out", out)
	if code != 0 {
		t.Fatalf("learn --l7 exit %d: %s%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "verify L7: ") || !strings.Contains(stdout, "excess 0 of") {
		t.Errorf("no L7 verification, or excess:\n%s", stdout)
	}
	users, err := os.ReadFile(filepath.Join(out, "market", "users.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"http:", `path: /api/v1/users/[^/]+`, "method: DELETE"} {
		if !strings.Contains(string(users), want) {
			t.Errorf("users.yaml lacks %q:\n%s", want, users)
		}
	}
	orders, err := os.ReadFile(filepath.Join(out, "market", "orders.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(orders), "matchPattern: shard-*.orders-db.example.net") || strings.Contains(string(orders), "matchPattern: '*'") {
		t.Errorf("orders' DNS rule does not list its names:\n%s", orders)
	}
	report, err := os.ReadFile(filepath.Join(out, "REPORT.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## L7 rules (--l7)", "#### market/users from market/gateway, port 8080/TCP", "### Kafka", "market/orders -> data/redis 6379/TCP", "netpolgen visibility --http"} {
		if !strings.Contains(string(report), want) {
			t.Errorf("REPORT.md lacks %q", want)
		}
	}

	// Without --l7 the same capture gives L3/L4 rules only.
	plain := t.TempDir()
	if code, stdout, stderr := run(t, "", "learn", "--from-file", capture, "--out", plain); code != 0 {
		t.Fatalf("learn exit %d: %s%s", code, stdout, stderr)
	}
	if data, _ := os.ReadFile(filepath.Join(plain, "market", "users.yaml")); strings.Contains(string(data), "http:") {
		t.Error("HTTP rules without --l7")
	}
}

func TestLearnL7FlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--l7", "--format", "kubernetes"},
		{"--l7-exact-dns"},
		{"--l7", "--l7-max-routes", "0"},
	} {
		out := t.TempDir()
		code, _, stderr := run(t, "", append([]string{"learn", "--from-file", shopExample, "--out", out}, args...)...)
		if code == 0 || stderr == "" {
			t.Errorf("learn %v: exit %d, stderr %q", args, code, stderr)
		}
	}
}

// A malformed URL is reported with the file and line of its record and
// left out of the routes; it never becomes a rule matching everything.
func TestLearnL7ReportsMalformedRequests(t *testing.T) {
	dir := t.TempDir()
	capture := filepath.Join(dir, "flows.json")
	ep := func(app, pod string) string {
		return `{"namespace":"shop","pod_name":"` + pod + `","labels":["k8s:app=` + app + `","k8s:io.kubernetes.pod.namespace=shop"],"workloads":[{"name":"` + app + `","kind":"Deployment"}]}`
	}
	line := func(ts, method, url string) string {
		return `{"flow":{"time":"2026-01-05T08:00:0` + ts + `Z","verdict":"FORWARDED","Type":"L7","source":` + ep("web", "web-1") + `,"destination":` + ep("api", "api-1") +
			`,"l4":{"TCP":{"source_port":40000,"destination_port":8080}},"l7":{"type":"REQUEST","http":{"method":"` + method + `","url":"` + url + `","protocol":"HTTP/1.1"}}}}`
	}
	lines := []string{line("1", "GET", "http://api/items/1"), line("2", "GET", "http://api/a b"), line("3", "get", "http://api/x")}
	if err := os.WriteFile(capture, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	code, stdout, stderr := run(t, "", "learn", "--from-file", capture, "--l7", "--out", out)
	if code != 0 {
		t.Fatalf("learn exit %d: %s%s", code, stdout, stderr)
	}
	for _, want := range []string{capture + ":2: malformed URL", capture + ":3: malformed HTTP method"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	api, err := os.ReadFile(filepath.Join(out, "shop", "api.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(api), `path: /items/[^/]+`) || strings.Contains(string(api), ".*") || strings.Count(string(api), "path:") != 1 {
		t.Errorf("api.yaml:\n%s", api)
	}
	if report, _ := os.ReadFile(filepath.Join(out, "REPORT.md")); !strings.Contains(string(report), capture+":2: malformed URL") {
		t.Error("REPORT.md does not name the malformed record")
	}
}

// verify checks L7 too: the learned L7 rules allow the capture's requests;
// with one route removed by hand, verify exits 1 naming a denied request.
func TestVerifyChecksL7(t *testing.T) {
	capture := l7Capture(t)
	out := t.TempDir()
	if code, stdout, stderr := run(t, "", "learn", "--from-file", capture, "--l7", "--exclude-namespace", "kube-system", "--out", out); code != 0 {
		t.Fatalf("learn exit %d: %s%s", code, stdout, stderr)
	}
	code, stdout, stderr := run(t, "", "verify", "--policies", out, "--from-file", capture)
	if code != 0 || !strings.Contains(stdout, "verify L7: ") || !strings.Contains(stdout, "excess 0 of") {
		t.Fatalf("verify exit %d:\n%s%s", code, stdout, stderr)
	}
	path := filepath.Join(out, "market", "users.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cut := strings.Replace(string(data), "path: /api/v1/users\n", "path: /api/v1/customers\n", 1)
	if cut == string(data) {
		t.Fatalf("no /api/v1/users route in %s", data)
	}
	if err := os.WriteFile(path, []byte(cut), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ = run(t, "", "verify", "--policies", out, "--from-file", capture)
	if code != 1 || !strings.Contains(stdout, "DENIED market/gateway -> market/users 8080/TCP: POST /api/v1/users") {
		t.Errorf("verify exit %d with a route removed:\n%s", code, stdout)
	}
}

// L3/L4 policies are not judged on requests: they allow any by design.
func TestVerifySkipsL7ForL3L4Policies(t *testing.T) {
	capture := l7Capture(t)
	out := t.TempDir()
	if code, stdout, stderr := run(t, "", "learn", "--from-file", capture, "--exclude-namespace", "kube-system", "--out", out); code != 0 {
		t.Fatalf("learn exit %d: %s%s", code, stdout, stderr)
	}
	code, stdout, stderr := run(t, "", "verify", "--policies", out, "--from-file", capture)
	if code != 0 || strings.Contains(stdout, "verify L7") {
		t.Errorf("verify exit %d:\n%s%s", code, stdout, stderr)
	}
}
