package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/netpolgen/netpolgen/pkg/graph"
	"github.com/netpolgen/netpolgen/pkg/observe"
)

// FoldOptions say how flows become a learned graph.
type FoldOptions struct {
	Graph graph.Options
	// State is the graph file learning resumes from when it exists and
	// saves to at every checkpoint and at the end; "" keeps nothing.
	State string
	// Every is how often a live source is checkpointed to State; 0 saves
	// only at the end.
	Every time.Duration
	// Log hears each checkpoint (at debug level); nil says nothing.
	Log *slog.Logger
}

// Folder accumulates a learned graph, segment by segment: all of a
// capture, or a live source between checkpoints. Each segment is folded
// by a builder primed with what was learned before, so identities and
// pending connections carry across checkpoints and restarts.
type Folder struct {
	opts FoldOptions
	acc  *graph.Graph
}

// NewFolder starts from the State file when it exists.
func NewFolder(opts FoldOptions) (*Folder, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	f := &Folder{opts: opts}
	if opts.State != "" {
		if _, err := os.Stat(opts.State); err == nil {
			if f.acc, err = graph.LoadFile(opts.State); err != nil {
				return nil, fmt.Errorf("resume from %s: %w", opts.State, err)
			}
		}
	}
	return f, nil
}

// Graph is what has been learned so far; nil before any flow or state.
func (f *Folder) Graph() *graph.Graph { return f.acc }

// ResumePoint is where live learning starts: after the last flow the
// saved state holds, so a restart neither misses the server's buffered
// flows nor counts them twice; with no state, everything the server
// still buffers.
func (f *Folder) ResumePoint() time.Time {
	since := time.Unix(1, 0)
	if f.acc == nil {
		return since
	}
	if last := f.acc.Coverage.LastFlow; last.After(since) {
		since = last.Add(time.Nanosecond)
	}
	for _, e := range f.acc.Edges {
		if e.LastSeen.After(since) {
			since = e.LastSeen.Add(time.Nanosecond)
		}
	}
	return since
}

// Capture folds a finite source to its end; locate, when set, says where
// the flow being read is, for notes about malformed L7 records.
func (f *Folder) Capture(ctx context.Context, src observe.Source, locate func() string) error {
	_, err := f.segment(ctx, src, locate, time.Time{})
	return err
}

// Live folds a live source until ctx ends (the end of the learning
// window) or the source does, saving the state every Every.
func (f *Folder) Live(ctx context.Context, src observe.Source) error {
	for {
		var deadline time.Time
		if f.opts.State != "" && f.opts.Every > 0 {
			deadline = time.Now().Add(f.opts.Every)
		}
		done, err := f.segment(ctx, src, nil, deadline)
		if err != nil || done {
			return err
		}
	}
}

// segment reads src into a builder primed with what was learned so far,
// until the source ends, ctx is done or the deadline (when not zero)
// passes; then merges it and saves the state. It reports whether
// learning is finished.
func (f *Folder) segment(ctx context.Context, src observe.Source, locate func() string, deadline time.Time) (bool, error) {
	b := graph.NewBuilder(f.opts.Graph)
	if locate != nil {
		b.SetLocator(locate)
	}
	if f.acc != nil {
		b.Prime(f.acc)
	}
	err := observe.Feed(ctx, src, func(rec *observe.Record) bool {
		b.AddRecord(rec)
		return deadline.IsZero() || time.Now().Before(deadline)
	})
	// The source's end, and the end of the window, finish learning; a
	// checkpoint's deadline only ends the segment.
	done := err == nil || ctx.Err() != nil
	if err != nil && !done && !errors.Is(err, observe.ErrStopped) {
		return false, err
	}
	seg := b.Finish()
	if f.acc == nil {
		f.acc = seg
	} else {
		merged, err := graph.Merge(f.acc, seg)
		if err != nil {
			return false, fmt.Errorf("merge with %s: %w", f.opts.State, err)
		}
		f.acc = merged
	}
	if f.opts.State != "" {
		if err := graph.SaveFile(f.opts.State, f.acc); err != nil {
			return false, err
		}
		f.opts.Log.Debug("saved the learned graph", "state", f.opts.State, "peers", len(f.acc.Peers), "edges", len(f.acc.Edges), "finished", done)
	}
	return done, nil
}
