package hubble

import (
	"testing"
	"time"

	flowpb "github.com/cilium/cilium/api/v1/flow"
)

// TestResumeRequest checks what a reconnect asks for: the same query,
// resumed from the last delivered time, owing what is still owed.
func TestResumeRequest(t *testing.T) {
	t0 := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	filters := []*flowpb.FlowFilter{{SourcePod: []string{"shop/"}}}
	tests := []struct {
		name       string
		opts       Options
		delivered  uint64
		atBoundary int // flows delivered at the boundary time; 0 means no flow yet
		wantNumber uint64
		wantFirst  bool
		wantSince  time.Time
	}{
		{name: "first stream is the user's", opts: Options{Number: 20, First: true, Since: t0}, wantNumber: 20, wantFirst: true, wantSince: t0},
		{name: "follow resumes from the boundary", opts: Options{Follow: true}, delivered: 10, atBoundary: 2, wantSince: t0.Add(time.Minute)},
		{name: "follow after --last N reads everything since", opts: Options{Follow: true, Number: 50}, delivered: 60, atBoundary: 1, wantSince: t0.Add(time.Minute)},
		{name: "--last N owes the rest plus the repeats", opts: Options{Number: 100}, delivered: 40, atBoundary: 3, wantNumber: 63, wantSince: t0.Add(time.Minute)},
		{name: "--first N counts forward from the boundary", opts: Options{Number: 10, First: true}, delivered: 4, atBoundary: 1, wantNumber: 7, wantSince: t0.Add(time.Minute)},
		{name: "all since a time", opts: Options{Since: t0}, delivered: 5, atBoundary: 1, wantSince: t0.Add(time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Whitelist = filters
			s := &Source{opts: tt.opts, boundary: newBoundary(), delivered: tt.delivered}
			for i := 0; i < tt.atBoundary; i++ {
				s.boundary.deliver(t0.Add(time.Minute), []byte{byte(i)})
			}
			req := s.request()
			if req.GetNumber() != tt.wantNumber || req.GetFirst() != tt.wantFirst || req.GetFollow() != tt.opts.Follow {
				t.Errorf("number %d first %v follow %v; want %d %v %v", req.GetNumber(), req.GetFirst(), req.GetFollow(), tt.wantNumber, tt.wantFirst, tt.opts.Follow)
			}
			if !req.GetSince().AsTime().Equal(tt.wantSince) {
				t.Errorf("since %v, want %v", req.GetSince().AsTime(), tt.wantSince)
			}
			if len(req.GetWhitelist()) != 1 || req.GetWhitelist()[0] != filters[0] {
				t.Errorf("whitelist %v: want the user's filters sent again", req.GetWhitelist())
			}
		})
	}
}

func TestBoundaryKeepsOnlyTheLatestTimestamp(t *testing.T) {
	t0 := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	b := newBoundary()
	flow := func(s string) []byte { return []byte(s) }
	fp := func(s string) uint64 { return b.fingerprint(flow(s)) }
	// The caller reuses what deliver hands back: it must never be a
	// buffer the boundary still holds.
	if spare := b.deliver(t0, flow("one")); len(spare) != 0 {
		t.Fatalf("first delivery handed back %q", spare)
	}
	if spare := b.deliver(t0, flow("two")); string(spare) != "" || cap(spare) < 3 {
		t.Fatalf("second delivery handed back %q (cap %d), want the first flow's buffer emptied", spare, cap(spare))
	}
	late := flow("three")
	if spare := b.deliver(t0.Add(-time.Second), late); &spare[0] != &late[0] {
		t.Fatal("a late flow from another node was kept") // and ignored
	}
	if !b.has(fp("one")) || !b.has(fp("two")) || b.has(fp("three")) || !b.time.Equal(t0) || b.count() != 2 {
		t.Fatalf("boundary %v %v: want flows one and two at %v", b.time, b.seen, t0)
	}
	b.deliver(t0.Add(time.Nanosecond), flow("four"))
	if b.count() != 1 || b.has(fp("one")) || !b.has(fp("four")) {
		t.Fatalf("a later flow must reset the boundary: %v", b.seen)
	}
}

func TestRecentSetForgetsTheOldest(t *testing.T) {
	r := newRecentSet(3)
	for _, fp := range []uint64{1, 2, 3} {
		if !r.add(fp) {
			t.Fatalf("%d reported as seen before", fp)
		}
	}
	if r.add(2) {
		t.Fatal("a repeat reported as new")
	}
	r.add(4) // evicts 1
	if !r.add(1) || r.add(4) || len(r.seen) != 3 {
		t.Fatalf("want 1 forgotten, 4 kept, 3 remembered: %v", r.seen)
	}
}
