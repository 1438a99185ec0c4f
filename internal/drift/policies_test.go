package drift

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/observe/capture"
	"github.com/netpolgen/netpolgen/pkg/synth"
	"github.com/netpolgen/netpolgen/pkg/verify"
)

// breakablePolicies is a directory source that can be made to fail.
type breakablePolicies struct {
	*DirSource
	broken atomic.Bool
}

func (b *breakablePolicies) Policies() (*verify.Policies, error) {
	if b.broken.Load() {
		return nil, errors.New("policies.yaml: document 3 has no kind")
	}
	return b.DirSource.Policies()
}

// TestUnreadablePoliciesKeepTheLastFindings breaks the policy set while
// drift runs: the report says why, keeps the last good findings, and the
// error counter moves; with --once, an unchecked report is an error.
func TestUnreadablePoliciesKeepTheLastFindings(t *testing.T) {
	fx := shopBaseline(t, synth.FormatCilium)
	captured := fx.write(t, "both.json", fx.baseline, fx.driftFlows(t))
	policies := &breakablePolicies{DirSource: NewDirSource(fx.policies)}
	r, err := NewRunner(Options{
		Open: func(context.Context, time.Time, SourceHooks) (observe.Source, error) {
			return heldSource{capture.NewSource([]string{captured}, capture.Options{Strict: true})}, nil
		},
		Follow: true, Policies: policies, Interval: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { _, err := r.Run(ctx); done <- err }()
	waitFor(t, r, "the drift findings", func(rep *Report) bool { return len(rep.Uncovered) == 2 })
	policies.broken.Store(true)
	rep := waitFor(t, r, "the policy error reported", func(rep *Report) bool { return rep.Policies.Error != "" })
	if len(rep.Uncovered) != 2 || !strings.Contains(string(rep.Markdown()), "could not be read") {
		t.Errorf("with unreadable policies: %d uncovered (want the last 2), error %q", len(rep.Uncovered), rep.Policies.Error)
	}
	if r.evalErrors.Load() == 0 {
		t.Error("evaluation errors not counted")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("follow mode stops cleanly whatever the policies: %v", err)
	}

	policies.broken.Store(true)
	once, err := NewRunner(Options{
		Open: func(context.Context, time.Time, SourceHooks) (observe.Source, error) {
			return capture.NewSource([]string{captured}, capture.Options{Strict: true}), nil
		},
		Policies: policies,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := once.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "not checked") {
		t.Errorf("--once with unreadable policies: %v, want an error", err)
	}
}
