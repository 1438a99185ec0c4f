package drift

import (
	"errors"
	"testing"
	"time"

	"github.com/netpolgen/netpolgen/pkg/observe"
)

func TestGapLog(t *testing.T) {
	t0 := time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)
	l := newGapLog([]Gap{{Cause: "Hubble stream down", Start: t0}}) // left open by a previous run
	if g := l.snapshot()[0]; g.Open() {
		t.Fatalf("a gap restored open stays open: %+v", g)
	}
	l.streamDown(t0.Add(time.Minute), t0, errors.New("connection refused"))
	l.streamDown(t0.Add(2*time.Minute), t0, errors.New("still refused"))
	if gaps := l.snapshot(); len(gaps) != 2 || !gaps[1].Open() || gaps[1].LastError != "still refused" {
		t.Fatalf("repeated failures: %+v, want one open gap with the last error", gaps)
	}
	l.flowArrived(t0.Add(3*time.Minute), t0.Add(90*time.Second))
	l.flowArrived(t0.Add(4*time.Minute), t0.Add(4*time.Minute)) // no gap open: nothing changes
	g := l.snapshot()[1]
	if g.Open() || !g.End.Equal(t0.Add(3*time.Minute)) || !g.FirstFlowAfter.Equal(t0.Add(90*time.Second)) {
		t.Fatalf("closed gap %+v", g)
	}
	for i := 0; i < maxGaps+5; i++ {
		l.lost(t0, &observe.LostEvent{NumLost: 1, Time: t0})
	}
	if n := len(l.snapshot()); n != maxGaps {
		t.Errorf("%d gaps kept, want the last %d", n, maxGaps)
	}
	l.streamDown(t0, t0, nil)
	if gaps := l.snapshot(); !gaps[len(gaps)-1].Open() {
		t.Error("a new outage after trimming is not open")
	}
}
