package observe

import (
	"context"
	"fmt"
	"sort"
	"strings"

	flowpb "github.com/cilium/cilium/api/v1/flow"
)

// Source yields flows and lost-event notices, from a capture or a live
// Hubble server. Other Hubble events are skipped and counted in Stats.
type Source interface {
	// Next returns the next record, of Kind KindFlow or KindLostEvents.
	// The record is valid until the next call. A finite source returns
	// io.EOF at its end.
	Next(ctx context.Context) (*Record, error)
	// Stats reports what the source has read so far.
	Stats() Stats
	Close() error
}

// Stats counts what a source has read.
type Stats struct {
	Flows uint64
	// LostNotices counts lost_events records and LostEvents the events
	// they say were lost, by where they were lost.
	LostNotices uint64
	LostEvents  map[flowpb.LostEventSource]uint64
	// Skipped counts records that are not flows, by kind.
	Skipped   map[Kind]uint64
	Malformed uint64
}

// TotalLost is the number of events lost from every source.
func (s Stats) TotalLost() uint64 {
	var n uint64
	for _, v := range s.LostEvents {
		n += v
	}
	return n
}

// LostSummary says, in one line, how many events were lost where, or ""
// when none were.
func (s Stats) LostSummary() string {
	if len(s.LostEvents) == 0 {
		return ""
	}
	parts := make([]string, 0, len(s.LostEvents))
	for src, n := range s.LostEvents {
		parts = append(parts, fmt.Sprintf("%d in %s", n, LostSourceName(src)))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// LostSourceName names where events were lost in words a user knows.
func LostSourceName(src flowpb.LostEventSource) string {
	switch src {
	case flowpb.LostEventSource_PERF_EVENT_RING_BUFFER:
		return "the perf ring buffer (datapath to agent)"
	case flowpb.LostEventSource_OBSERVER_EVENTS_QUEUE:
		return "the Hubble observer events queue"
	case flowpb.LostEventSource_HUBBLE_RING_BUFFER:
		return "the Hubble ring buffer"
	}
	return "an unknown place"
}

// Count adds one record a source read to s: a flow, a lost-events
// notice, or a skipped event of another kind.
func (s *Stats) Count(rec *Record) {
	switch rec.Kind {
	case KindFlow:
		s.Flows++
	case KindLostEvents:
		s.LostNotices++
		if s.LostEvents == nil {
			s.LostEvents = make(map[flowpb.LostEventSource]uint64)
		}
		s.LostEvents[rec.Lost.Source] += rec.Lost.NumLost
	default:
		if s.Skipped == nil {
			s.Skipped = make(map[Kind]uint64)
		}
		s.Skipped[rec.Kind]++
	}
}

// Add returns the sum of two Stats.
func (s Stats) Add(o Stats) Stats {
	out := Stats{Flows: s.Flows + o.Flows, LostNotices: s.LostNotices + o.LostNotices, Malformed: s.Malformed + o.Malformed}
	for _, m := range []map[flowpb.LostEventSource]uint64{s.LostEvents, o.LostEvents} {
		for k, v := range m {
			if out.LostEvents == nil {
				out.LostEvents = make(map[flowpb.LostEventSource]uint64)
			}
			out.LostEvents[k] += v
		}
	}
	for _, m := range []map[Kind]uint64{s.Skipped, o.Skipped} {
		for k, v := range m {
			if out.Skipped == nil {
				out.Skipped = make(map[Kind]uint64)
			}
			out.Skipped[k] += v
		}
	}
	return out
}
