package diff

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func sampleReport() *Report {
	return &Report{
		Against: "https://10.0.0.1:6443",
		Objects: &ObjectsResult{
			Changes: []ObjectChange{
				{Kind: "NetworkPolicy", Namespace: "shop", Name: "api", Action: ActionCreate, Diff: "--- /dev/null\n+++ proposed/NetworkPolicy shop/api\n@@ -0,0 +1 @@\n+kind: NetworkPolicy\n"},
				{Kind: "NetworkPolicy", Namespace: "shop", Name: "bad", Action: ActionRejected, Message: "spec.podSelector: Invalid value"},
				{Kind: "CiliumNetworkPolicy", Namespace: "shop", Name: "legacy", Action: ActionKept},
			},
			Notes: []string{"server-side dry-run not permitted"},
		},
		Semantic: &SemanticResult{
			Observed:         3,
			NewlyDenied:      []Connection{{From: "shop/web", To: "shop/api", Port: "9000/TCP", Side: "ingress"}},
			NewlyAllowed:     []Connection{{From: "shop/web", To: "shop/db", Port: "5432/TCP", Side: "ingress"}},
			UnchangedAllowed: 1,
		},
		Absent: []string{"CiliumClusterwideNetworkPolicy (ciliumclusterwidenetworkpolicies.cilium.io): not served"},
	}
}

func TestReportFormatsSayEverything(t *testing.T) {
	tests := []struct {
		format string
		want   []string
	}{
		{"text", []string{
			"+++ proposed/NetworkPolicy shop/api",
			"rejected: NetworkPolicy shop/bad: spec.podSelector: Invalid value",
			"1 to create, 0 to update, 0 unchanged, 1 rejected, 1 in force and not proposed (kept)",
			"kept (in force, not proposed, not deleted): CiliumNetworkPolicy shop/legacy",
			"note: server-side dry-run not permitted",
			"note: CiliumClusterwideNetworkPolicy",
			"1 newly denied (would break), 1 newly allowed, 1 unchanged",
			"- newly denied: shop/web -> shop/api 9000/TCP (ingress)",
			"+ newly allowed: shop/web -> shop/db 5432/TCP",
		}},
		{"markdown", []string{
			"## Policy diff against https://10.0.0.1:6443",
			"| newly denied (would break) | 1 |",
			"| `shop/web` | `shop/api` | 9000/TCP | ingress |",
			"- `NetworkPolicy shop/bad`: spec.podSelector: Invalid value",
			"- `CiliumNetworkPolicy shop/legacy`",
			"```diff\n--- /dev/null",
		}},
		{"json", []string{`"action": "rejected"`, `"newly_denied": [`, `"unchanged_allowed": 1`}},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			var b bytes.Buffer
			if err := sampleReport().Write(&b, tt.format); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("%s output lacks %q:\n%s", tt.format, w, b.String())
				}
			}
			if tt.format == "json" {
				var back Report
				if err := json.Unmarshal(b.Bytes(), &back); err != nil {
					t.Fatal(err)
				}
				if len(back.Objects.Changes) != 3 || back.Semantic.NewlyDenied[0].Port != "9000/TCP" {
					t.Errorf("JSON did not round-trip: %+v", back)
				}
			}
		})
	}
	if err := sampleReport().Write(&bytes.Buffer{}, "yaml"); err == nil {
		t.Error("an unknown format was accepted")
	}
}

func TestReportChanged(t *testing.T) {
	unchanged := &Report{Objects: &ObjectsResult{Changes: []ObjectChange{{Action: ActionUnchanged}, {Action: ActionKept}}}}
	tests := []struct {
		name   string
		report *Report
		want   bool
	}{
		{"unchanged and kept only", unchanged, false},
		{"unchanged objects, no semantic change", &Report{Objects: unchanged.Objects, Semantic: &SemanticResult{Observed: 2, UnchangedAllowed: 2}}, false},
		{"semantic change alone", &Report{Objects: unchanged.Objects, Semantic: &SemanticResult{NewlyAllowed: []Connection{{}}}}, true},
		{"rejection", &Report{Objects: &ObjectsResult{Changes: []ObjectChange{{Action: ActionRejected}}}}, true},
	}
	for _, tt := range tests {
		if got := tt.report.Changed(); got != tt.want {
			t.Errorf("%s: Changed() = %v, want %v", tt.name, got, tt.want)
		}
	}
}
