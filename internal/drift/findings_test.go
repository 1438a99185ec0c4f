package drift

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/netpolgen/netpolgen/internal/flowgen"
	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/observe/capture"
	"github.com/netpolgen/netpolgen/pkg/synth"
)

// TestUnprotectedWorkloadsAndNamespaces removes policies from the learned
// set: a namespace with none at all is one finding, a workload left
// without a policy in a namespace that still has others is its own.
func TestUnprotectedWorkloadsAndNamespaces(t *testing.T) {
	fx := shopBaseline(t, synth.FormatCilium)
	for _, p := range []string{"monitoring", "data/redis.yaml", "data/default-deny.yaml"} {
		if err := os.RemoveAll(filepath.Join(fx.policies, p)); err != nil {
			t.Fatal(err)
		}
	}
	base := fx.write(t, "baseline.json", fx.baseline)
	rep, err := fileRunner(t, []string{base}, fx.policies, "", "").Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(findingKeys(rep.Unprotected), " ")
	want := "unprotected/namespace/monitoring unprotected/workload/data/redis"
	if got != want {
		t.Fatalf("unprotected %s, want %s", got, want)
	}
	if ws := rep.Unprotected[0].Workloads; strings.Join(ws, ",") != "monitoring/prometheus,monitoring/statsd-exporter" {
		t.Errorf("monitoring's unprotected workloads %v", ws)
	}
	// Traffic the removed policies allowed is now uncovered where the
	// remaining side still denies it; none is reported for the namespaces
	// that lost every policy as a side that denies.
	for _, f := range rep.Uncovered {
		if f.Connection.Side != "egress" && f.Namespace == "monitoring" {
			t.Errorf("%s: an unprotected namespace cannot deny ingress", f.Key)
		}
	}
}

// TestRestartKeepsStaleHistory checkpoints the baseline, then restarts on
// a capture of one flow an hour later: the rules exercised only by the
// baseline are stale, by their last use before the restart. Without the
// checkpoint they would look new, and nothing would be stale.
func TestRestartKeepsStaleHistory(t *testing.T) {
	fx := shopBaseline(t, synth.FormatCilium)
	state := filepath.Join(fx.dir, "state.json")
	base := fx.write(t, "baseline.json", fx.baseline)
	first := fileRunnerWith(t, []string{base}, fx.policies, state, 30*time.Minute)
	rep, err := first.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Stale) != 0 {
		t.Fatalf("fresh baseline: stale %v", findingKeys(rep.Stale))
	}
	rules := rep.Policies.Rules

	hourLater := fx.write(t, "later.json", synFlow(t, fx.end.Add(time.Hour), checkoutPod(), cartPod(), "10.0.1.17", "10.0.2.23", 8080, 1))
	for _, tc := range []struct {
		name      string
		state     string
		wantStale bool
	}{{"from the checkpoint", state, true}, {"without it", "", false}} {
		t.Run(tc.name, func(t *testing.T) {
			r := fileRunnerWith(t, []string{hourLater}, fx.policies, tc.state, 30*time.Minute)
			rep, err := r.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !tc.wantStale {
				if len(rep.Stale) != 0 {
					t.Fatalf("without history: %d stale rules, want none", len(rep.Stale))
				}
				return
			}
			// The later flow is denied, so it exercises no rule: every
			// rule was last used, or first known, in the baseline.
			if len(rep.Stale) != rules || rules == 0 {
				t.Fatalf("%d stale rules of %d, want all of them", len(rep.Stale), rules)
			}
			for _, f := range rep.Stale {
				last := f.Rule.LastExercised
				if last.IsZero() {
					last = f.Rule.Since
				}
				if last.After(fx.end) || fx.end.Add(time.Hour).Sub(last) < 30*time.Minute {
					t.Errorf("%s: last used %v, not stale at %v", f.Key, last, fx.end.Add(time.Hour))
				}
			}
			gaps := rep.Gaps
			if len(gaps) == 0 || !strings.HasPrefix(gaps[len(gaps)-1].Cause, "drift was not running") {
				t.Errorf("gaps %+v, want the restart recorded", gaps)
			}
		})
	}
}

func fileRunnerWith(t *testing.T, paths []string, policies, state string, staleAfter time.Duration) *Runner {
	t.Helper()
	r, err := NewRunner(Options{
		Open: func(context.Context, time.Time, SourceHooks) (observe.Source, error) {
			return capture.NewSource(paths, capture.Options{Strict: true}), nil
		},
		Policies: NewDirSource(policies), StatePath: state, StaleAfter: staleAfter,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestStaleRulesAreExactlyTheQuietOnes checkpoints the baseline, then runs
// on the same shop eight days later without its prometheus -> redis call:
// with --stale-after 7d, exactly the two rules that allowed that call
// (prometheus's egress, redis's ingress) are stale, and nothing else.
func TestStaleRulesAreExactlyTheQuietOnes(t *testing.T) {
	fx := shopBaseline(t, synth.FormatCilium)
	state := filepath.Join(fx.dir, "state.json")
	base := fx.write(t, "baseline.json", fx.baseline)
	if _, err := fileRunnerWith(t, []string{base}, fx.policies, state, 7*24*time.Hour).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	sc := flowgen.Shop()
	sc.LostEvents = 0
	sc.Calls = slices.DeleteFunc(sc.Calls, func(c flowgen.Call) bool {
		return c.Denied || c.Port == 9121 // prometheus -> redis metrics
	})
	var later bytes.Buffer
	if _, err := flowgen.Generate(sc, flowgen.Options{Seed: 8, Start: fx.end.Add(8 * 24 * time.Hour), Duration: 20 * time.Minute}, &later); err != nil {
		t.Fatal(err)
	}
	rep, err := fileRunnerWith(t, []string{fx.write(t, "later.json", later.Bytes())}, fx.policies, state, 7*24*time.Hour).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range rep.Stale {
		got = append(got, fmt.Sprintf("%s/%s %s %s", f.Rule.Namespace, f.Rule.Name, f.Rule.Direction, f.Rule.Ports))
		if f.Rule.LastExercised.IsZero() || f.Rule.LastExercised.After(fx.end) {
			t.Errorf("%s: last exercised %v, want during the baseline", f.Key, f.Rule.LastExercised)
		}
	}
	want := "data/redis ingress 9121/TCP monitoring/prometheus egress 9121/TCP"
	if strings.Join(got, " ") != want {
		t.Errorf("stale rules %q, want %q", strings.Join(got, " "), want)
	}
	if len(rep.Uncovered)+len(rep.Unprotected) != 0 {
		t.Errorf("unexpected findings: %v", findingKeys(rep.Findings()))
	}
}
