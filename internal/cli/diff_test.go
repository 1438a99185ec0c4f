package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netpolgen/netpolgen/internal/filetree"
)

const diffWebPolicy = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec: {podSelector: {matchLabels: {app: web}}, policyTypes: [Ingress]}
`

func TestDiffExitCodesAgainstADirectory(t *testing.T) {
	same := filetree.Write(t, map[string]string{"shop/web.yaml": diffWebPolicy, "kustomization.yaml": "resources: [shop]\n"})
	changed := filetree.Write(t, map[string]string{"shop/web.yaml": strings.Replace(diffWebPolicy, "[Ingress]", "[Ingress, Egress]", 1)})
	bad := filetree.Write(t, map[string]string{"x.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"})
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"no change", []string{"diff", "--policies", same, "--against", same}, 0, "0 to create, 0 to update, 1 unchanged", ""},
		{"update", []string{"diff", "--policies", changed, "--against", same}, 1, "+  - Egress", ""},
		{"markdown", []string{"diff", "--policies", changed, "--against", same, "-o", "markdown"}, 1, "```diff", ""},
		{"not a policy", []string{"diff", "--policies", bad, "--against", same}, 2, "", "ConfigMap is not a network policy kind"},
		{"no policies flag", []string{"diff", "--against", same}, 2, "", "--policies DIR is required"},
		{"bad format", []string{"diff", "--policies", same, "--against", same, "-o", "yaml"}, 2, "", "unknown output format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := run(t, "", tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.wantCode, stderr)
			}
			if !strings.Contains(out, tt.wantOut) {
				t.Errorf("stdout lacks %q:\n%s", tt.wantOut, out)
			}
			if !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", tt.wantErr, stderr)
			}
		})
	}
}

func TestDiffJSONCarriesTheSemanticDiffOfACapture(t *testing.T) {
	// The bundled shop capture against no policies at all, proposing a
	// default-deny for one namespace: every observed connection into or
	// out of it becomes denied.
	empty := t.TempDir()
	proposed := filetree.Write(t, map[string]string{"deny.yaml": `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: shop}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
`})
	example := filepath.Join("..", "..", "examples", "shop-flows.json.gz")
	code, out, stderr := run(t, "", "diff", "--policies", proposed, "--against", empty, "--from-file", example, "-o", "json")
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr: %s", code, stderr)
	}
	var rep struct {
		Semantic struct {
			Observed         int                               `json:"observed"`
			NewlyDenied      []struct{ From, To, Port string } `json:"newly_denied"`
			NewlyAllowed     []struct{ From, To, Port string } `json:"newly_allowed"`
			UnchangedAllowed int                               `json:"unchanged_allowed"`
		} `json:"semantic"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	s := rep.Semantic
	if s.Observed == 0 || len(s.NewlyDenied) == 0 || len(s.NewlyAllowed) != 0 {
		t.Fatalf("semantic diff %+v: want some newly denied and none newly allowed", s)
	}
	if len(s.NewlyDenied)+s.UnchangedAllowed != s.Observed {
		t.Errorf("%d newly denied + %d unchanged != %d observed", len(s.NewlyDenied), s.UnchangedAllowed, s.Observed)
	}
	for _, c := range s.NewlyDenied {
		if !strings.HasPrefix(c.From, "shop/") && !strings.HasPrefix(c.To, "shop/") {
			t.Errorf("%s -> %s %s denied, but neither end is in shop", c.From, c.To, c.Port)
		}
	}
}

func TestDiffFromTheLearnedState(t *testing.T) {
	// learn --state saves the graph; diff reads it instead of the
	// capture and reaches the same verdicts.
	example := filepath.Join("..", "..", "examples", "shop-flows.json.gz")
	state := filepath.Join(t.TempDir(), "learn.graph.json")
	if code, _, stderr := run(t, "", "learn", "--from-file", example, "--state", state, "--out", t.TempDir()); code > 1 {
		t.Fatalf("learn: exit %d: %s", code, stderr)
	}
	empty := t.TempDir()
	proposed := filetree.Write(t, map[string]string{"deny.yaml": `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: shop}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
`})
	_, fromCapture, _ := run(t, "", "diff", "--policies", proposed, "--against", empty, "--from-file", example)
	code, fromState, stderr := run(t, "", "diff", "--policies", proposed, "--against", empty, "--state", state)
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr: %s", code, stderr)
	}
	if fromState != fromCapture || !strings.Contains(fromState, "newly denied: ") {
		t.Errorf("diff from --state differs from --from-file:\n%s\n---\n%s", fromState, fromCapture)
	}
	if _, fromLoad, _ := run(t, "", "diff", "--policies", proposed, "--against", empty, "--load", state); fromLoad != fromCapture {
		t.Errorf("diff --load differs from --from-file:\n%s\n---\n%s", fromLoad, fromCapture)
	}
	if code, _, stderr := run(t, "", "diff", "--policies", proposed, "--against", empty, "--state", state, "--from-file", example); code != 2 || !strings.Contains(stderr, "not both") {
		t.Errorf("--state with --from-file: exit %d, %s", code, stderr)
	}
}
