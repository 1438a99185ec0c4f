package drift

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/netpolgen/netpolgen/pkg/graph"
	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/observe/hubble"
	"github.com/netpolgen/netpolgen/pkg/verify"
)

// Defaults for Options.
const (
	DefaultInterval   = 30 * time.Second
	DefaultStaleAfter = 7 * 24 * time.Hour
)

// SourceHooks are what an opened source tells the runner about its
// connection.
type SourceHooks struct {
	// OnReconnect is hubble.Options.OnReconnect.
	OnReconnect func(attempt int, err error, wait time.Duration)
}

// Options configure a Runner.
type Options struct {
	// Open opens the flow source, resuming from since (zero: from the
	// source's start). With Follow it is called again whenever the
	// source fails or ends.
	Open func(ctx context.Context, since time.Time, hooks SourceHooks) (observe.Source, error)
	// SourceName says where flows come from, for the report.
	SourceName string
	// Follow runs until the context ends; without it Run returns after
	// the source's end (--once).
	Follow   bool
	Policies PolicySource
	Graph    graph.Options
	// Interval is how often the report is refreshed (wall clock).
	Interval time.Duration
	// StaleAfter is how long, in flow time, an allow rule may go
	// unexercised before it is stale.
	StaleAfter time.Duration
	// ReportDir receives the Markdown and JSON reports; empty writes none.
	ReportDir string
	// StatePath is the checkpoint file; empty keeps no state.
	StatePath string
	// SkipUnprotected names namespaces not reported as unprotected.
	SkipUnprotected func(namespace string) bool
	Logger          *slog.Logger
}

// Runner is one drift process: a reading goroutine folds flows into a
// graph segment, and Run's loop evaluates the learned graph every
// interval.
type Runner struct {
	opts    Options
	log     *slog.Logger
	metrics *metrics
	gaps    *gapLog

	// mu guards the segment being built and the current source.
	mu      sync.Mutex
	builder *graph.Builder
	src     observe.Source

	// Counters the reader writes and the metrics read.
	flows, lost   atomic.Uint64
	reconnectBase atomic.Uint64
	wmNanos       atomic.Int64 // latest flow time, Unix nanoseconds
	evaluations   atomic.Uint64
	evalErrors    atomic.Uint64
	lastEval      atomic.Int64
	started       atomic.Int64
	srcConnected  atomic.Bool

	lastReportMu sync.Mutex
	lastReport   *Report

	// Only the evaluating goroutine (Run's loop) touches these. The last
	// good policy set and findings stay in use while the policies cannot
	// be read.
	lastPolicies *verify.Policies
	lastFindings *classified
	state        *State
}

// NewRunner loads the checkpoint, if any, and prepares a runner.
func NewRunner(opts Options) (*Runner, error) {
	if opts.Open == nil || opts.Policies == nil {
		return nil, errors.New("drift: a flow source and a policy source are required")
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.StaleAfter <= 0 {
		opts.StaleAfter = DefaultStaleAfter
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Runner{opts: opts, log: opts.Logger, builder: graph.NewBuilder(opts.Graph), state: newState()}
	resumed := false
	if opts.StatePath != "" {
		st, ok, err := LoadState(opts.StatePath)
		if err != nil {
			return nil, err
		}
		r.state, resumed = st, ok
	}
	if !r.state.Watermark.IsZero() {
		r.wmNanos.Store(r.state.Watermark.UnixNano())
	}
	r.gaps = newGapLog(r.state.Gaps)
	if resumed {
		r.gaps.notRunning(r.state.SavedAt, time.Now(), r.state.Watermark)
		r.log.Info("drift resumed from checkpoint", "state", opts.StatePath, "flows", r.state.Flows, "watermark", r.state.Watermark)
	}
	r.metrics = newMetrics(r)
	r.started.Store(time.Now().UnixNano())
	return r, nil
}

func (r *Runner) watermark() time.Time {
	n := r.wmNanos.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// reconnects counts stream reopenings over every source this runner used.
func (r *Runner) reconnects() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reconnectBase.Load() + liveOf(r.src).Reconnects
}

func (r *Runner) connected() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.src == nil {
		return false
	}
	if _, ok := r.src.(liveSource); ok {
		return liveOf(r.src).Connected
	}
	return r.srcConnected.Load()
}

type liveSource interface{ Live() hubble.LiveStats }

func liveOf(src observe.Source) hubble.LiveStats {
	if l, ok := src.(liveSource); ok {
		return l.Live()
	}
	return hubble.LiveStats{}
}

// LastReport is the last report written, or nil.
func (r *Runner) LastReport() *Report {
	r.lastReportMu.Lock()
	defer r.lastReportMu.Unlock()
	return r.lastReport
}

// Run reads flows and evaluates every interval until ctx ends (Follow) or
// the source ends; it returns the last report. An evaluation also runs
// right away when the policy source signals a change.
func (r *Runner) Run(ctx context.Context) (*Report, error) {
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	readDone := make(chan error, 1)
	go func() { readDone <- r.read(readCtx) }()
	ticker := time.NewTicker(r.opts.Interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			<-readDone
			return r.evaluate()
		case err := <-readDone:
			rep, evalErr := r.evaluate()
			if err != nil && ctx.Err() == nil {
				return rep, err
			}
			if !r.opts.Follow && evalErr == nil && rep.Policies.Error != "" {
				// A final report without a policy check must not pass CI.
				evalErr = fmt.Errorf("drift: the flows were not checked: %s", rep.Policies.Error)
			}
			return rep, evalErr
		case <-ticker.C:
			if _, err := r.evaluate(); err != nil {
				r.log.Error("drift evaluation failed", "err", err)
			}
		case <-r.opts.Policies.Changed():
			if _, err := r.evaluate(); err != nil {
				r.log.Error("drift evaluation failed", "err", err)
			}
		}
	}
}

// read opens the source and folds its records in; with Follow it reopens
// the source after it fails, recording the outage as a gap.
func (r *Runner) read(ctx context.Context) error {
	backoff := observe.DefaultBackoff()
	for attempt := 1; ; attempt++ {
		src, err := r.opts.Open(ctx, r.watermark(), SourceHooks{OnReconnect: r.streamRetrying})
		if err == nil {
			attempt = 0
			err = r.consume(ctx, src)
		}
		if ctx.Err() != nil {
			return nil
		}
		if !r.opts.Follow {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if errors.Is(err, io.EOF) {
			err = errors.New("the flow source ended")
		}
		r.gaps.streamDown(time.Now(), r.watermark(), err)
		wait := backoff.Delay(attempt + 1)
		r.log.Warn("drift: flow source failed; retrying", "err", err, "wait", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// streamRetrying is the live source's reconnect hook: the outage starts
// at the first failed attempt.
func (r *Runner) streamRetrying(attempt int, err error, wait time.Duration) {
	r.gaps.streamDown(time.Now(), r.watermark(), err)
	if attempt == 1 || attempt%10 == 0 {
		r.log.Warn("drift: Hubble stream broken; reconnecting", "attempt", attempt, "err", err, "wait", wait)
	}
}

func (r *Runner) consume(ctx context.Context, src observe.Source) error {
	r.mu.Lock()
	r.src = src
	r.mu.Unlock()
	r.srcConnected.Store(true)
	defer func() {
		r.srcConnected.Store(false)
		r.mu.Lock()
		r.reconnectBase.Add(liveOf(src).Reconnects)
		r.src = nil
		r.mu.Unlock()
		src.Close()
	}()
	err := observe.Feed(ctx, src, func(rec *observe.Record) bool {
		now := time.Now()
		r.mu.Lock()
		r.builder.AddRecord(rec)
		r.mu.Unlock()
		switch rec.Kind {
		case observe.KindFlow:
			t := rec.Flow.Time
			r.flows.Add(1)
			if n := t.UnixNano(); !t.IsZero() && n > r.wmNanos.Load() {
				r.wmNanos.Store(n)
			}
			r.gaps.flowArrived(now, t)
		case observe.KindLostEvents:
			r.lost.Add(rec.Lost.NumLost)
			r.gaps.lost(now, &rec.Lost)
		}
		return true
	})
	if err == nil {
		return io.EOF // the capture ended; the caller tells that from a break
	}
	return err
}

// evaluate folds the current segment into the learned graph, classifies
// it, and writes the report, the metrics and the checkpoint.
func (r *Runner) evaluate() (*Report, error) {
	r.mu.Lock()
	seg := r.builder.Finish()
	r.builder = graph.NewBuilder(r.opts.Graph)
	r.mu.Unlock()
	r.evaluations.Add(1)
	st := r.state
	st.Flows += seg.Coverage.Flows
	if err := st.fold(seg); err != nil {
		r.evalErrors.Add(1)
		return nil, err
	}
	st.Watermark = r.watermark()

	info := PolicyInfo{Source: r.opts.Policies.Name()}
	ps, err := r.opts.Policies.Policies()
	if err == nil {
		r.lastPolicies = ps
	} else {
		info.Error = err.Error()
	}
	res := r.lastFindings
	if r.lastPolicies != nil {
		fresh, cerr := classify(classifyInput{graph: st.Graph, policies: r.lastPolicies, now: st.Watermark,
			staleAfter: r.opts.StaleAfter, firstKnown: st.RuleFirstKnown, skipUnprotected: r.opts.SkipUnprotected})
		if cerr == nil {
			res, r.lastFindings = fresh, fresh
			r.noteFindings(fresh.findings)
		} else {
			info.Error = cerr.Error()
		}
	}
	if info.Error != "" {
		r.evalErrors.Add(1)
		r.log.Error("drift: cannot check against the policies", "err", info.Error)
	}
	if r.lastPolicies != nil {
		info.NetworkPolicies, info.CiliumNetworkPolicies = len(r.lastPolicies.Kubernetes), len(r.lastPolicies.Cilium)
	}
	rep := r.report(info, res)
	r.metrics.setFindings(rep.Findings())
	st.Gaps = rep.Gaps
	var errs []error
	if r.opts.ReportDir != "" {
		errs = append(errs, rep.Write(r.opts.ReportDir))
	}
	if r.opts.StatePath != "" {
		errs = append(errs, st.Save(r.opts.StatePath, time.Now()))
	}
	r.lastEval.Store(time.Now().UnixNano())
	r.lastReportMu.Lock()
	r.lastReport = rep
	r.lastReportMu.Unlock()
	if err := errors.Join(errs...); err != nil {
		r.evalErrors.Add(1)
		return rep, err
	}
	return rep, nil
}

// noteFindings logs each finding the first time it appears and each one
// that went away, and remembers when each was first reported.
func (r *Runner) noteFindings(fs []Finding) {
	now := r.state.Watermark
	current := make(map[string]bool, len(fs))
	for _, f := range fs {
		current[f.Key] = true
		if _, seen := r.state.Reported[f.Key]; seen {
			continue
		}
		r.state.Reported[f.Key] = now
		attrs := []any{"kind", f.Kind, "namespace", f.Namespace, "key", f.Key, "summary", f.Summary}
		if f.Connection != nil {
			attrs = append(attrs, "from", f.Connection.From, "to", f.Connection.To, "port", f.Connection.Port, "side", f.Connection.Side)
		}
		r.log.Info("drift finding", attrs...)
	}
	for key := range r.state.Reported {
		if !current[key] {
			delete(r.state.Reported, key)
			r.log.Info("drift finding resolved", "key", key)
		}
	}
}

func (r *Runner) report(info PolicyInfo, res *classified) *Report {
	rep := &Report{
		Generated: time.Now().UTC(), FlowTime: r.state.Watermark, StaleAfter: days(r.opts.StaleAfter),
		Source: SourceInfo{Name: r.opts.SourceName, Flows: r.state.Flows, LostEvents: r.lost.Load(),
			Reconnects: r.reconnects(), Connected: r.connected()},
		Policies: info, Uncovered: []Finding{}, Stale: []Finding{}, Unprotected: []Finding{},
		Gaps: r.gaps.snapshot(),
	}
	if res == nil {
		return rep
	}
	rep.Connections, rep.Policies.Rules, rep.Inexpressible, rep.IdentityNote = res.checked, res.rules, res.inexpressible, res.identityNote
	for _, f := range res.findings {
		f.FirstReported = r.state.Reported[f.Key]
		switch f.Kind {
		case KindUncovered:
			rep.Uncovered = append(rep.Uncovered, f)
		case KindStale:
			rep.Stale = append(rep.Stale, f)
		case KindUnprotected:
			rep.Unprotected = append(rep.Unprotected, f)
		}
	}
	return rep
}

// Summary is a one-line account of a report, for the command's output.
func (rep *Report) Summary() string {
	return fmt.Sprintf("%d uncovered, %d stale, %d unprotected; %d flows, %d connections checked",
		len(rep.Uncovered), len(rep.Stale), len(rep.Unprotected), rep.Source.Flows, rep.Connections)
}

// days writes whole days as the --stale-after flag takes them ("7d").
func days(d time.Duration) string {
	const day = 24 * time.Hour
	if d >= day && d%day == 0 {
		return fmt.Sprintf("%dd", d/day)
	}
	return d.String()
}
