package drift

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/observe/capture"
	"github.com/netpolgen/netpolgen/pkg/synth"
	"github.com/netpolgen/netpolgen/pkg/verify"
)

func fileRunner(t *testing.T, paths []string, policies, reportDir, state string) *Runner {
	t.Helper()
	r, err := NewRunner(Options{
		Open: func(context.Context, time.Time, SourceHooks) (observe.Source, error) {
			return capture.NewSource(paths, capture.Options{Strict: true}), nil
		},
		SourceName: "test capture", Policies: NewDirSource(policies), ReportDir: reportDir, StatePath: state,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func findingKeys(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Key)
	}
	return out
}

// TestOnceReportsExactlyTheDrift checks a capture against policies
// learned from its baseline: the baseline alone has no findings; with a
// new connection and a dropped flow added, exactly those two are
// uncovered, and each suggested patch, added to the policies, makes
// Cilium's engine allow its connection.
func TestOnceReportsExactlyTheDrift(t *testing.T) {
	for _, format := range []synth.Format{synth.FormatCilium, synth.FormatKubernetes} {
		t.Run(string(format), func(t *testing.T) {
			fx := shopBaseline(t, format)
			base := fx.write(t, "baseline.json", fx.baseline)
			rep, err := fileRunner(t, []string{base}, fx.policies, "", "").Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if n := len(rep.Findings()); n != 0 {
				t.Fatalf("baseline alone: %d findings, want none: %v", n, findingKeys(rep.Findings()))
			}
			if rep.Connections == 0 || rep.Source.Flows == 0 {
				t.Fatalf("baseline checked nothing: %+v", rep)
			}

			both := fx.write(t, "both.json", fx.baseline, fx.driftFlows(t))
			reportDir := filepath.Join(fx.dir, "report")
			rep, err = fileRunner(t, []string{both}, fx.policies, reportDir, "").Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			want := []string{
				"uncovered/shop/checkout>shop/cart/8080/TCP",
				"uncovered/shop/debug-shell>data/postgresql/5432/TCP",
			}
			if got := findingKeys(rep.Findings()); strings.Join(got, " ") != strings.Join(want, " ") {
				t.Fatalf("findings %v, want %v", got, want)
			}
			dropped := rep.Uncovered[1].Connection
			if !dropped.DroppedOnly || dropped.Side != "both" {
				t.Errorf("debug-shell -> postgres: %+v, want dropped only and denied on both sides", dropped)
			}
			md, err := os.ReadFile(filepath.Join(reportDir, MarkdownReport))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(md), "shop/debug-shell → data/postgresql on 5432/TCP") {
				t.Errorf("Markdown report does not name the dropped connection:\n%s", md)
			}
			var fromJSON Report
			data, err := os.ReadFile(filepath.Join(reportDir, JSONReport))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &fromJSON); err != nil || len(fromJSON.Uncovered) != 2 {
				t.Fatalf("JSON report: %v, %d uncovered", err, len(fromJSON.Uncovered))
			}
			for _, f := range rep.Uncovered {
				assertPatchAllows(t, fx.policies, both, f)
			}
		})
	}
}

// assertPatchAllows adds a finding's patch to the policies and checks that
// the connection is no longer uncovered and nothing else changed.
func assertPatchAllows(t *testing.T, policies, captured string, f Finding) {
	t.Helper()
	if f.Patch == "" {
		t.Fatalf("%s: no patch (%s)", f.Key, f.PatchNote)
	}
	ps, err := verify.LoadDir(policies)
	if err != nil {
		t.Fatal(err)
	}
	if err := ps.Add("patch.yaml", []byte(f.Patch)); err != nil {
		t.Fatalf("%s: patch does not parse: %v\n%s", f.Key, err, f.Patch)
	}
	r, err := NewRunner(Options{
		Open: func(context.Context, time.Time, SourceHooks) (observe.Source, error) {
			return capture.NewSource([]string{captured}, capture.Options{Strict: true}), nil
		},
		Policies: fixedPolicies{ps},
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Uncovered) != 1 || rep.Uncovered[0].Key == f.Key {
		t.Errorf("with the patch for %s: uncovered %v, want only the other connection\n%s", f.Key, findingKeys(rep.Uncovered), f.Patch)
	}
}

// fixedPolicies is a policy set held in memory.
type fixedPolicies struct{ ps *verify.Policies }

func (f fixedPolicies) Policies() (*verify.Policies, error) { return f.ps, nil }
func (f fixedPolicies) Changed() <-chan struct{}            { return nil }
func (f fixedPolicies) Name() string                        { return "memory" }
