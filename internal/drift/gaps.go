package drift

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/netpolgen/netpolgen/pkg/observe"
)

// Gap is a stretch in which drift may have missed traffic: the Hubble
// stream was down, Hubble reported lost events, or drift itself was not
// running. A report that shows no findings across a gap says "unknown",
// not "quiet".
type Gap struct {
	Cause string `json:"cause"`
	// Start and End are wall-clock times; End is zero while the gap is
	// open.
	Start time.Time `json:"start"`
	End   time.Time `json:"end,omitzero"`
	// LastFlowBefore and FirstFlowAfter bound the gap in flow time.
	LastFlowBefore time.Time `json:"lastFlowBefore,omitzero"`
	FirstFlowAfter time.Time `json:"firstFlowAfter,omitzero"`
	// LostEvents counts events Hubble said it lost.
	LostEvents uint64 `json:"lostEvents,omitempty"`
	// LastError is the last error while the stream was down.
	LastError string `json:"lastError,omitempty"`
}

// Open reports whether the gap has not ended yet.
func (g Gap) Open() bool { return g.End.IsZero() }

// maxGaps bounds the gap history kept in the state and the report.
const maxGaps = 100

// gapLog records gaps as the reader sees them; it is shared by the
// reading goroutine and the evaluating one.
type gapLog struct {
	mu   sync.Mutex
	gaps []Gap
	open int // index of the open stream gap, or -1
	// streamOpen mirrors open >= 0 so the per-flow check takes no lock.
	streamOpen atomic.Bool
}

func newGapLog(saved []Gap) *gapLog {
	l := &gapLog{gaps: append([]Gap(nil), saved...), open: -1}
	for i := range l.gaps {
		if l.gaps[i].Open() {
			// A gap left open by a previous run ended when that run did;
			// the restart gap that follows covers the rest.
			l.gaps[i].End = l.gaps[i].Start
			l.gaps[i].Cause += " (drift stopped before it closed)"
		}
	}
	return l
}

// streamDown opens a gap when the stream breaks, or updates the open one.
func (l *gapLog) streamDown(now time.Time, lastFlow time.Time, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if l.open >= 0 {
		l.gaps[l.open].LastError = msg
		return
	}
	l.add(Gap{Cause: "Hubble stream down", Start: now, LastFlowBefore: lastFlow, LastError: msg})
	l.open = len(l.gaps) - 1
	l.streamOpen.Store(true)
}

// flowArrived closes the open stream gap at the first flow after it.
func (l *gapLog) flowArrived(now, flowTime time.Time) {
	if !l.streamOpen.Load() {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open < 0 {
		return
	}
	l.gaps[l.open].End = now
	l.gaps[l.open].FirstFlowAfter = flowTime
	l.open = -1
	l.streamOpen.Store(false)
}

// lost records a Hubble lost-events notice.
func (l *gapLog) lost(now time.Time, ev *observe.LostEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	start := ev.FirstEvent
	if start.IsZero() {
		start = ev.Time
	}
	where := observe.LostSourceName(ev.Source)
	if ev.NodeName != "" {
		where += " on " + ev.NodeName
	}
	l.add(Gap{Cause: fmt.Sprintf("Hubble lost %d events in %s", ev.NumLost, where), Start: now, End: now,
		LastFlowBefore: start, FirstFlowAfter: ev.LastEvent, LostEvents: ev.NumLost})
}

// notRunning records the time between the last checkpoint and now.
func (l *gapLog) notRunning(savedAt, now, lastFlow time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.add(Gap{Cause: "drift was not running (restarted from its checkpoint)", Start: savedAt, End: now, LastFlowBefore: lastFlow})
}

func (l *gapLog) add(g Gap) {
	l.gaps = append(l.gaps, g)
	if over := len(l.gaps) - maxGaps; over > 0 {
		l.gaps = l.gaps[over:]
		if l.open >= 0 {
			l.open -= over
		}
		if l.open < 0 {
			l.open = -1
			l.streamOpen.Store(false)
		}
	}
}

func (l *gapLog) snapshot() []Gap {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Gap(nil), l.gaps...)
}
