package cli

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/observe/hubble"

	flowpb "github.com/cilium/cilium/api/v1/flow"
)

type fakeProgressSource struct {
	mu    sync.Mutex
	stats observe.Stats
	live  hubble.LiveStats
}

func (f *fakeProgressSource) Stats() observe.Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

func (f *fakeProgressSource) Live() hubble.LiveStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.live
}

func TestProgressLine(t *testing.T) {
	src := &fakeProgressSource{
		stats: observe.Stats{Flows: 3000, LostEvents: map[flowpb.LostEventSource]uint64{flowpb.LostEventSource_HUBBLE_RING_BUFFER: 12}},
		live:  hubble.LiveStats{Reconnects: 2, Unavailable: 1, LastError: errors.New("connection refused")},
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := &Progress{Duration: time.Hour, src: src, start: start}
	p.last.at = start
	got := p.Line(start.Add(10 * time.Second))
	for _, want := range []string{"300 flows/s", "3000 flows", "12 lost", "2 reconnects", "elapsed 10s", "remaining 59m50s", "1 nodes unavailable", "reconnecting: connection refused"} {
		if !strings.Contains(got, want) {
			t.Errorf("line %q lacks %q", got, want)
		}
	}
	// The rate is over the time since the previous line.
	src.stats.Flows = 3100
	if got := p.Line(start.Add(20 * time.Second)); !strings.Contains(got, "10 flows/s") {
		t.Errorf("second line %q: want 10 flows/s", got)
	}
}

func TestProgressDrawing(t *testing.T) {
	tests := []struct {
		name  string
		tty   bool
		check func(t *testing.T, out string)
	}{
		{name: "terminal redraws in place", tty: true, check: func(t *testing.T, out string) {
			if strings.Count(out, "\r\033[K") < 2 || !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 {
				t.Errorf("want several in-place redraws and one final newline, got %q", out)
			}
		}},
		{name: "log lines otherwise", tty: false, check: func(t *testing.T, out string) {
			if strings.Contains(out, "\r") || strings.Count(out, "netpolgen: progress flows_per_s=") < 2 {
				t.Errorf("want plain periodic log lines, got %q", out)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out lockedWriter
			p := &Progress{W: &out, TTY: tt.tty, RedrawEvery: 5 * time.Millisecond, LogEvery: 5 * time.Millisecond,
				Log: slog.New(&lineHandler{mu: &sync.Mutex{}, w: &out, level: slog.LevelInfo})}
			p.Start(&fakeProgressSource{})
			// Wait for two periodic lines however slow the machine is.
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
				if strings.Count(out.String(), "flows/s")+strings.Count(out.String(), "flows_per_s") >= 2 {
					break
				}
			}
			p.Stop()
			tt.check(t, out.String())
		})
	}
}

type lockedWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
