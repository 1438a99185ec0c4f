package cli

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/observe/hubble"
)

// ProgressSource is what a progress line reads: a live source's counters.
type ProgressSource interface {
	Stats() observe.Stats
	Live() hubble.LiveStats
}

// Progress draws a status line about a long stream: flows/s, flows in
// total, lost events, reconnects, and elapsed and remaining time of the
// run. On a terminal it is redrawn in place on W; otherwise it is logged
// to Log every LogEvery, as a line with its figures as attributes.
type Progress struct {
	W   io.Writer
	TTY bool
	Log *slog.Logger
	// Duration is how long the run lasts, for "remaining"; 0 for a run
	// without an end.
	Duration time.Duration
	// RedrawEvery and LogEvery are the terminal and log intervals
	// (defaults 500ms and 30s).
	RedrawEvery, LogEvery time.Duration

	src   ProgressSource
	start time.Time
	last  struct {
		at    time.Time
		flows uint64
	}
	stop chan struct{}
	wg   sync.WaitGroup
}

// Start begins reporting on src until Stop.
func (p *Progress) Start(src ProgressSource) {
	if p.RedrawEvery <= 0 {
		p.RedrawEvery = 500 * time.Millisecond
	}
	if p.LogEvery <= 0 {
		p.LogEvery = 30 * time.Second
	}
	p.src, p.start, p.stop = src, time.Now(), make(chan struct{})
	p.last.at = p.start
	every := p.LogEvery
	if p.TTY {
		every = p.RedrawEvery
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case now := <-t.C:
				p.draw(now, false)
			}
		}
	}()
}

// Stop ends reporting and writes a final line.
func (p *Progress) Stop() {
	if p.stop == nil {
		return
	}
	close(p.stop)
	p.wg.Wait()
	p.stop = nil
	p.draw(time.Now(), true)
}

func (p *Progress) draw(now time.Time, final bool) {
	st := p.status(now)
	switch {
	case p.TTY && final:
		fmt.Fprintf(p.W, "\r\033[K%s\n", st.line())
	case p.TTY:
		fmt.Fprintf(p.W, "\r\033[K%s", st.line())
	default:
		p.Log.Info("progress", st.attrs()...)
	}
}

// Line is the status line at now; the rate is over the time since the
// previous line.
func (p *Progress) Line(now time.Time) string { return p.status(now).line() }

// progressStatus is what one progress line says.
type progressStatus struct {
	rate                    float64
	flows, lost, reconnects uint64
	elapsed, remaining      time.Duration
	timed                   bool // remaining is known
	unavailable             int
	reconnecting            string
}

func (p *Progress) status(now time.Time) progressStatus {
	st, live := p.src.Stats(), p.src.Live()
	s := progressStatus{flows: st.Flows, lost: st.TotalLost(), reconnects: live.Reconnects, unavailable: live.Unavailable}
	if dt := now.Sub(p.last.at).Seconds(); dt > 0 {
		s.rate = float64(st.Flows-p.last.flows) / dt
	}
	p.last.at, p.last.flows = now, st.Flows
	s.elapsed = now.Sub(p.start).Round(time.Second)
	if p.Duration > 0 {
		s.timed, s.remaining = true, max(p.Duration-now.Sub(p.start), 0).Round(time.Second)
	}
	if live.LastError != nil && !live.Connected {
		s.reconnecting = statusText(live.LastError)
	}
	return s
}

func (s progressStatus) line() string {
	parts := []string{
		fmt.Sprintf("%.0f flows/s", s.rate),
		fmt.Sprintf("%d flows", s.flows),
		fmt.Sprintf("%d lost", s.lost),
		fmt.Sprintf("%d reconnects", s.reconnects),
		"elapsed " + s.elapsed.String(),
	}
	if s.timed {
		parts = append(parts, "remaining "+s.remaining.String())
	}
	if s.unavailable > 0 {
		parts = append(parts, fmt.Sprintf("%d nodes unavailable", s.unavailable))
	}
	if s.reconnecting != "" {
		parts = append(parts, "reconnecting: "+s.reconnecting)
	}
	return strings.Join(parts, "  ")
}

func (s progressStatus) attrs() []any {
	a := []any{"flows_per_s", int64(s.rate), "flows", s.flows, "lost", s.lost, "reconnects", s.reconnects, "elapsed", s.elapsed}
	if s.timed {
		a = append(a, "remaining", s.remaining)
	}
	if s.unavailable > 0 {
		a = append(a, "nodes_unavailable", s.unavailable)
	}
	if s.reconnecting != "" {
		a = append(a, "reconnecting", s.reconnecting)
	}
	return a
}
