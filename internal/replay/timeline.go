package replay

import (
	"math"
	"sort"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// timeline plays a capture as a Hubble ring buffer would hold it: events
// are released at the pacing rate (all at once without one) and, with
// looping, the capture repeats with its times shifted forward each round
// so time keeps increasing and resuming "since" a time stays exact.
type timeline struct {
	events   []Event
	rate     float64
	loop     bool
	capacity int64
	start    time.Time
	// period is how far each loop round is shifted in time: the capture's
	// span plus one mean gap, so rounds neither overlap nor touch.
	period time.Duration
}

func newTimeline(c *Capture, opts Options, start time.Time) *timeline {
	events := append([]Event(nil), c.Events...)
	// Serve in time order, as a ring buffer fills, so since/until and
	// resuming from a time are well defined for merged capture files.
	sort.SliceStable(events, func(i, j int) bool { return events[i].Time.Before(events[j].Time) })
	t := &timeline{events: events, rate: opts.Rate, loop: opts.Loop, start: start, capacity: int64(opts.BufferSize)}
	if t.capacity <= 0 {
		t.capacity = int64(len(events))
	}
	if n := len(events); n > 0 {
		span := events[n-1].Time.Sub(events[0].Time)
		t.period = span + max(span/time.Duration(n), time.Millisecond)
	}
	return t
}

// released is how many events have been released by now: the ring's
// write position. Without pacing the whole capture is there from the start.
func (t *timeline) released(now time.Time) int64 {
	n := int64(len(t.events))
	if t.rate <= 0 {
		return n
	}
	k := now.Sub(t.start).Seconds() * t.rate
	if k >= math.MaxInt64/2 {
		k = math.MaxInt64 / 2
	}
	if r := int64(k); t.loop || r < n {
		return max(r, 0)
	}
	return n
}

// followLimit is how far a following reader may read by now. Unpaced
// looping has no limit: followers get the rounds as fast as they read.
func (t *timeline) followLimit(now time.Time) int64 {
	if t.rate <= 0 && t.loop {
		return math.MaxInt64
	}
	return t.released(now)
}

// exhausted reports whether no event will ever exist at index i.
func (t *timeline) exhausted(i int64) bool {
	return !t.loop && i >= int64(len(t.events))
}

// releaseTime is when the event at index i is released.
func (t *timeline) releaseTime(i int64) time.Time {
	return t.start.Add(time.Duration(float64(i) / t.rate * float64(time.Second)))
}

// oldest is the first index still in the ring when released events have
// been written.
func (t *timeline) oldest(released int64) int64 {
	return max(released-t.capacity, 0)
}

// event returns the event at index i, shifted in time for later loop
// rounds.
func (t *timeline) event(i int64) Event {
	n := int64(len(t.events))
	ev := t.events[i%n]
	round := i / n
	if round == 0 {
		return ev
	}
	shift := time.Duration(round) * t.period
	resp := proto.CloneOf(ev.Resp)
	if ts := resp.GetTime(); ts != nil {
		resp.Time = timestamppb.New(ts.AsTime().Add(shift))
	}
	if fl := resp.GetFlow(); fl != nil && fl.GetTime() != nil {
		fl.Time = timestamppb.New(fl.GetTime().AsTime().Add(shift))
	}
	shifted, err := NewEvent(resp)
	if err != nil {
		// The original marshalled; a copy with other times cannot fail.
		return ev
	}
	return shifted
}
