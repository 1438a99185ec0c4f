package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netpolgen/netpolgen/internal/flowgen"
)

// TestLearnDecidesPublicEndpoints learns day 1 of flowgen.ShopDays: the
// ingress takes a crowd of internet clients and becomes a public endpoint,
// the partner's port keeps its one address, REPORT.md says both with the
// flag that reverses them, and that flag does.
func TestLearnDecidesPublicEndpoints(t *testing.T) {
	day1, day2 := flowgen.ShopDays()
	capture := writeDayCapture(t, day1, 1, flowgen.DefaultStart())
	out := t.TempDir()
	if code, stdout, stderr := run(t, "", "learn", "--from-file", capture, "--format", "both", "--out", out); code != 0 {
		t.Fatalf("learn exit %d: %s%s", code, stdout, stderr)
	}
	report := readFile(t, filepath.Join(out, "REPORT.md"))
	for _, want := range []string{"| ingress-nginx/ingress-nginx 443/TCP | **public**", "`--no-public-endpoint ingress-nginx/ingress-nginx:443/TCP`",
		"| shop/orders-api 8443/TCP | exact addresses", "`--public-endpoint shop/orders-api:8443/TCP`"} {
		if !strings.Contains(report, want) {
			t.Errorf("REPORT.md lacks %q", want)
		}
	}
	if policy := readFile(t, filepath.Join(out, "ingress-nginx", "ingress-nginx.yaml")); !strings.Contains(policy, "- world") || strings.Contains(policy, "198.18.") {
		t.Errorf("the public ingress is not open to the world, or pins clients:\n%s", policy)
	}

	// The next day, with new pods, labels and clients, the same files hold.
	next := writeDayCapture(t, day2, 2, flowgen.DefaultStart().Add(24*time.Hour))
	if code, stdout, stderr := run(t, "", "verify", "--policies", out, "--from-file", next); code != 0 || strings.Contains(stdout, "DENIED") {
		t.Errorf("day 2 against day 1's policies: exit %d\n%s%s", code, stdout, stderr)
	}

	pinned := t.TempDir()
	if code, stdout, stderr := run(t, "", "learn", "--from-file", capture, "--out", pinned,
		"--no-public-endpoint", "ingress-nginx/ingress-nginx:443", "--public-endpoint", "shop/orders-api"); code != 0 {
		t.Fatalf("learn with the flags: exit %d: %s%s", code, stdout, stderr)
	}
	if policy := readFile(t, filepath.Join(pinned, "ingress-nginx", "ingress-nginx.yaml")); strings.Contains(policy, "- world") || !strings.Contains(policy, "198.18.") {
		t.Errorf("--no-public-endpoint did not keep the addresses seen:\n%s", policy)
	}
	if policy := readFile(t, filepath.Join(pinned, "shop", "orders-api.yaml")); !strings.Contains(policy, "- world") {
		t.Errorf("--public-endpoint did not open the partner's port:\n%s", policy)
	}

	code, _, stderr := run(t, "", "learn", "--from-file", capture, "--out", t.TempDir(), "--public-endpoint", "orders-api:8443")
	if code != 2 || !strings.Contains(stderr, "--public-endpoint") || !strings.Contains(stderr, "namespace/workload") {
		t.Errorf("a malformed --public-endpoint: exit %d, stderr %q; want exit 2 naming the flag and the form", code, stderr)
	}
}

// writeDayCapture generates an hour of a scenario into a file.
func writeDayCapture(t *testing.T, s *flowgen.Scenario, seed uint64, start time.Time) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), s.Name+".json")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := flowgen.Generate(s, flowgen.Options{Seed: seed, Start: start, Duration: time.Hour}, f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
