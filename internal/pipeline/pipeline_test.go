package pipeline

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/netpolgen/netpolgen/internal/flowgen"
	"github.com/netpolgen/netpolgen/pkg/graph"
	"github.com/netpolgen/netpolgen/pkg/observe/capture"
	"github.com/netpolgen/netpolgen/pkg/synth"
)

func learnedGraph(t *testing.T, sc *flowgen.Scenario) *graph.Graph {
	t.Helper()
	var buf bytes.Buffer
	if _, err := flowgen.Generate(sc, flowgen.Options{Seed: 7, Duration: 20 * time.Minute}, &buf); err != nil {
		t.Fatal(err)
	}
	src := capture.NewSource([]string{"-"}, capture.Options{Stdin: &buf})
	defer src.Close()
	g, err := graph.Build(context.Background(), src, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestLearn(t *testing.T) {
	tests := []struct {
		name   string
		sc     *flowgen.Scenario
		opts   synth.Options
		wantL7 bool
	}{
		{"shop, L3/L4", flowgen.Shop(), synth.Options{Format: synth.FormatBoth}, false},
		{"L7 scenario with --l7", flowgen.L7(), synth.Options{Format: synth.FormatCilium, L7: synth.L7Options{Enabled: true}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Learn(learnedGraph(t, tc.sc), tc.opts, nil)
			if err != nil {
				t.Fatal(err)
			}
			if l.Verified == nil || !l.Verified.OK() || l.Verified.Observed == 0 {
				t.Fatalf("verification: %+v", l.Verified)
			}
			if (l.VerifiedL7 != nil) != tc.wantL7 {
				t.Fatalf("L7 verification ran %v, want %v", l.VerifiedL7 != nil, tc.wantL7)
			}
			if tc.wantL7 && (!l.VerifiedL7.OK() || l.Plan.L7.Verification == nil) {
				t.Errorf("L7: %+v; the plan carries %v", l.VerifiedL7, l.Plan.L7.Verification)
			}
			last := l.Files[len(l.Files)-1]
			if last.Path != "REPORT.md" || !bytes.Contains(last.Data, []byte("**PASS: every observed connection is allowed.**")) {
				t.Errorf("last file %s, want REPORT.md with the verification:\n%.400s", last.Path, last.Data)
			}
		})
	}
}

// TestSynthesizeWithoutVerify is the benchmarks' path: the report of an
// unverified plan says nothing about a verification that did not run.
func TestSynthesizeWithoutVerify(t *testing.T) {
	l, err := Synthesize(learnedGraph(t, flowgen.Shop()), synth.Options{Format: synth.FormatCilium}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if l.Verified != nil || len(l.Plan.Policies) == 0 {
		t.Fatalf("verified %v, %d policies", l.Verified, len(l.Plan.Policies))
	}
	for _, f := range l.Files {
		if f.Path == "REPORT.md" {
			t.Errorf("Synthesize wrote REPORT.md before verifying")
		}
	}
	with, err := Learn(learnedGraph(t, flowgen.Shop()), synth.Options{Format: synth.FormatCilium}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if report := string(l.Report().Data); !strings.Contains(report, "## Verification\n\nNot run.\n") {
		t.Errorf("the unverified report does not say verification did not run:\n%s", report)
	}
	if report := string(with.Files[len(with.Files)-1].Data); strings.Contains(report, "Not run.") {
		t.Errorf("the verified report says verification did not run")
	}
}
