package cli

import (
	"fmt"
	"io"
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
// run. On a terminal it is redrawn in place; otherwise it is written as a
// log line every LogEvery.
type Progress struct {
	W   io.Writer
	TTY bool
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
	line := p.Line(now)
	switch {
	case p.TTY && final:
		fmt.Fprintf(p.W, "\r\033[K%s\n", line)
	case p.TTY:
		fmt.Fprintf(p.W, "\r\033[K%s", line)
	default:
		fmt.Fprintf(p.W, "netpolgen: %s\n", line)
	}
}

// Line is the status line at now; the rate is over the time since the
// previous line.
func (p *Progress) Line(now time.Time) string {
	st, live := p.src.Stats(), p.src.Live()
	rate := 0.0
	if dt := now.Sub(p.last.at).Seconds(); dt > 0 {
		rate = float64(st.Flows-p.last.flows) / dt
	}
	p.last.at, p.last.flows = now, st.Flows
	elapsed := now.Sub(p.start)
	parts := []string{
		fmt.Sprintf("%.0f flows/s", rate),
		fmt.Sprintf("%d flows", st.Flows),
		fmt.Sprintf("%d lost", st.TotalLost()),
		fmt.Sprintf("%d reconnects", live.Reconnects),
		"elapsed " + elapsed.Round(time.Second).String(),
	}
	if p.Duration > 0 {
		parts = append(parts, "remaining "+max(p.Duration-elapsed, 0).Round(time.Second).String())
	}
	if live.Unavailable > 0 {
		parts = append(parts, fmt.Sprintf("%d nodes unavailable", live.Unavailable))
	}
	if live.LastError != nil && !live.Connected {
		parts = append(parts, "reconnecting: "+statusText(live.LastError))
	}
	return strings.Join(parts, "  ")
}
