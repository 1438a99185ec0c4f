package hubble

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	observerpb "github.com/cilium/cilium/api/v1/observer"
	relaypb "github.com/cilium/cilium/api/v1/relay"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/observe/wire"
)

// Options configure a live source reading Hubble's observer API, with
// the hubble CLI's names for the same settings.
type Options struct {
	// Server is the Hubble server or Relay address (--server).
	Server string
	TLS    TLSOptions
	// DialTimeout bounds how long the first connection is tried before
	// giving up with an error (--timeout).
	DialTimeout time.Duration
	// RequestTimeout bounds unary calls such as ServerStatus
	// (--request-timeout).
	RequestTimeout time.Duration

	// Since and Until bound the flows' times; zero means unbounded.
	Since, Until time.Time
	// Follow keeps the stream open for new flows (--follow).
	Follow bool
	// Number asks for the last Number flows (--last), or the first ones
	// with First (--first); 0 means all.
	Number uint64
	First  bool
	// Whitelist and Blacklist are sent as the request's FlowFilters, so
	// the server does the filtering.
	Whitelist, Blacklist []*flowpb.FlowFilter

	// Backoff paces reconnects after a broken stream; the zero value
	// means DefaultBackoff.
	Backoff observe.Backoff
	// ReconnectFor bounds how long a broken stream is retried before Next
	// returns the error; 0 retries for ever.
	ReconnectFor time.Duration

	// OnReconnect, when set, is told about each failed attempt and the
	// wait before the next.
	OnReconnect func(attempt int, err error, wait time.Duration)
	// OnNodeStatus, when set, is told of Hubble Relay's node notices.
	OnNodeStatus func(observe.NodeStatus)
	// DialOptions are added to the connection's options.
	DialOptions []grpc.DialOption
}

// Source reads flows from a Hubble server or Relay over gRPC. It
// survives broken streams and server restarts: it reconnects with capped
// exponential backoff and resumes from the time of the last flow it
// delivered, dropping the flows at that time it already delivered, so no
// flow is lost or counted twice across a reconnect.
type Source struct {
	opts   Options
	conn   *grpc.ClientConn
	client observerpb.ObserverClient

	stream grpc.ClientStream
	// cancelStream ends the current stream; it is guarded by mu because
	// a caller's context may fire it from another goroutine.
	cancelStream context.CancelFunc
	// watched is the context of the latest Next call, and unwatch stops
	// it from cancelling the stream: a Next blocked in a quiet stream
	// must still return when its context ends.
	watched context.Context
	unwatch func() bool

	frame    wire.RawFrame
	dec      *wire.Decoder
	rec      observe.Record
	boundary boundary
	// overlap is set after a reconnect until a flow later than the
	// boundary arrives: only then can a flow be a repeat.
	overlap   bool
	delivered uint64
	done      bool

	mu          sync.Mutex
	stats       observe.Stats
	live        LiveStats
	statusOf    map[string]relaypb.NodeState
	noticesSeen recentSet
}

// LiveStats are the live source's own counters, for a progress line.
type LiveStats struct {
	Reconnects  uint64
	Duplicates  uint64 // repeats dropped after reconnects
	Unavailable int    // nodes Relay last said are unavailable
	LastError   error  // the last stream error, nil once data flows again
	Connected   bool
}

// NewSource connects to the server and opens the flow stream. An
// unreachable server or a TLS mismatch is reported once DialTimeout has
// passed, with what to try.
func NewSource(ctx context.Context, opts Options) (*Source, error) {
	if opts.Server == "" {
		opts.Server = DefaultServer
	}
	// As in the hubble CLI, a tls:// address and a client certificate
	// both mean TLS.
	if rest, ok := strings.CutPrefix(opts.Server, "tls://"); ok {
		opts.Server, opts.TLS.Enabled = rest, true
	}
	if opts.TLS.CertFile != "" || opts.TLS.KeyFile != "" {
		opts.TLS.Enabled = true
	}
	if opts.Backoff == (observe.Backoff{}) {
		opts.Backoff = observe.DefaultBackoff()
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 5 * time.Second
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 12 * time.Second
	}
	if opts.First && opts.Follow {
		return nil, &OptionError{Field: "First", Reason: "cannot be used with {Follow}"}
	}
	dialOpts, err := opts.dialOptions()
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(opts.Server, dialOpts...)
	if err != nil {
		return nil, &OptionError{Field: "Server", Reason: fmt.Sprintf("%q is not a valid address", opts.Server), Err: err}
	}
	s := &Source{
		opts: opts, conn: conn, client: observerpb.NewObserverClient(conn),
		dec: wire.NewDecoder(), statusOf: map[string]relaypb.NodeState{}, boundary: newBoundary(), noticesSeen: newRecentSet(4096),
	}
	if err := s.connectFirst(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return s, nil
}

// connectFirst opens the first stream, retrying a refused connection
// until DialTimeout: a server that is just starting is fine, one that is
// not there is an error now, not a silent wait.
func (s *Source) connectFirst(ctx context.Context) error {
	deadline := time.Now().Add(s.opts.DialTimeout)
	for attempt := 1; ; attempt++ {
		err := s.openStream(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := s.opts.Backoff.Delay(attempt)
		if !retryable(err) || time.Now().Add(wait).After(deadline) {
			return classify(s.opts.Server, s.opts.TLS.Enabled, err)
		}
		if !sleepCtx(ctx, wait) {
			return ctx.Err()
		}
	}
}

// request is the GetFlows request for the next stream: the user's on the
// first, and on a reconnect the same one resumed from the boundary.
func (s *Source) request() *observerpb.GetFlowsRequest {
	o := &s.opts
	req := &observerpb.GetFlowsRequest{
		Number: o.Number, First: o.First, Follow: o.Follow,
		Whitelist: o.Whitelist, Blacklist: o.Blacklist,
	}
	if !o.Since.IsZero() {
		req.Since = timestamppb.New(o.Since)
	}
	if !o.Until.IsZero() {
		req.Until = timestamppb.New(o.Until)
	}
	if s.boundary.time.IsZero() {
		return req
	}
	// Resume from the last delivered time, inclusive. Counting forward
	// from since, the server must send what was still owed plus the
	// boundary flows that will be dropped as repeats.
	req.Since = timestamppb.New(s.boundary.time)
	req.First = false
	if o.Number > 0 && !o.Follow {
		req.Number = o.Number - min(s.delivered, o.Number) + uint64(s.boundary.count())
	} else {
		req.Number = 0
	}
	return req
}

// openStream opens a stream that lives until it breaks, Close, or the
// context of the Next call reading it ends (see watch); ctx bounds only
// the opening.
func (s *Source) openStream(ctx context.Context) error {
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stopOpening := context.AfterFunc(ctx, cancel)
	defer stopOpening()
	desc := &observerpb.Observer_ServiceDesc.Streams[0]
	stream, err := s.conn.NewStream(sctx, desc, observerpb.Observer_GetFlows_FullMethodName, grpc.ForceCodecV2(wire.RawCodec{}))
	if err == nil {
		if err = stream.SendMsg(s.request()); err == nil {
			err = stream.CloseSend()
		}
	}
	if err != nil {
		cancel()
		return err
	}
	s.mu.Lock()
	s.stream, s.cancelStream = stream, cancel
	s.live.Connected = true
	s.mu.Unlock()
	return nil
}

func (s *Source) closeStream() {
	s.mu.Lock()
	if s.cancelStream != nil {
		s.cancelStream()
	}
	s.stream, s.cancelStream = nil, nil
	s.mu.Unlock()
}

// watch makes ctx's end cancel the current stream, so a Next blocked in
// RecvMsg returns. The stream is then resumed by the next call. Watching
// is set up once per context, not per call.
func (s *Source) watch(ctx context.Context) {
	if ctx == s.watched {
		return
	}
	if s.unwatch != nil {
		s.unwatch()
	}
	s.watched = ctx
	s.unwatch = context.AfterFunc(ctx, func() {
		s.mu.Lock()
		if s.cancelStream != nil {
			s.cancelStream()
		}
		s.mu.Unlock()
	})
}

// Next implements Source.
func (s *Source) Next(ctx context.Context) (*observe.Record, error) {
	s.watch(ctx)
	for {
		if s.done {
			return nil, io.EOF
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if s.stream == nil {
			if err := s.reconnect(ctx); err != nil {
				return nil, err
			}
		}
		err := s.stream.RecvMsg(&s.frame)
		if errors.Is(err, io.EOF) && (!s.opts.Follow || !s.opts.Until.IsZero()) {
			s.done = true
			s.closeStream()
			return nil, io.EOF
		}
		if err != nil {
			if ctx.Err() != nil {
				// The caller's context ended the stream: a later Next with
				// a live context resumes it.
				s.closeStream()
				return nil, ctx.Err()
			}
			if errors.Is(err, io.EOF) {
				err = errors.New("the server ended a follow stream (Options.Follow)")
			}
			s.closeStream()
			if !retryable(err) {
				return nil, classify(s.opts.Server, s.opts.TLS.Enabled, err)
			}
			s.setLive(func(l *LiveStats) { l.LastError, l.Connected = err, false })
			continue
		}
		if rec := s.accept(); rec != nil {
			return rec, nil
		}
	}
}

// accept decodes the frame just received and returns the record to
// deliver, or nil for one that is counted and skipped.
func (s *Source) accept() *observe.Record {
	// Callbacks run after the lock is released, so they may ask for Stats.
	var notice *observe.NodeStatus
	defer func() {
		if notice != nil && s.opts.OnNodeStatus != nil {
			s.opts.OnNodeStatus(*notice)
		}
	}()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.live.LastError = nil
	if err := s.dec.Decode(s.frame.Bytes, &s.rec); err != nil {
		s.stats.Malformed++
		return nil
	}
	switch s.rec.Kind {
	case observe.KindFlow:
		if s.isRepeat() {
			s.live.Duplicates++
			return nil
		}
		s.delivered++
		s.stats.Count(&s.rec)
		return &s.rec
	case observe.KindLostEvents:
		// Servers send lost-event and node notices whatever since says,
		// so a resumed stream can repeat them; count each notice once.
		if !s.noticesSeen.add(s.boundary.fingerprint(s.frame.Bytes)) {
			s.live.Duplicates++
			return nil
		}
		s.stats.Count(&s.rec)
		return &s.rec
	case observe.KindNodeStatus:
		if !s.noticesSeen.add(s.boundary.fingerprint(s.frame.Bytes)) {
			s.live.Duplicates++
			return nil
		}
		s.stats.Count(&s.rec)
		notice = s.noteNodeStatus(s.dec.Node)
		return nil
	}
	s.stats.Count(&s.rec)
	return nil
}

// isRepeat reports whether the flow just decoded was delivered before a
// reconnect, and otherwise records it at the boundary.
func (s *Source) isRepeat() bool {
	t := s.rec.Flow.Time
	if s.overlap {
		if t.Equal(s.boundary.time) && s.boundary.has(s.boundary.fingerprint(s.frame.Bytes)) {
			return true
		}
		if t.After(s.boundary.time) {
			s.overlap = false
		}
	}
	s.frame.Bytes = s.boundary.deliver(t, s.frame.Bytes)
	return false
}

// noteNodeStatus tracks which nodes Relay says are unavailable and
// returns a copy of the notice for the caller's callback.
func (s *Source) noteNodeStatus(n observe.NodeStatus) *observe.NodeStatus {
	for _, name := range n.NodeNames {
		s.statusOf[name] = n.State
	}
	unavailable := 0
	for _, st := range s.statusOf {
		if st == relaypb.NodeState_NODE_UNAVAILABLE {
			unavailable++
		}
	}
	s.live.Unavailable = unavailable
	return &observe.NodeStatus{State: n.State, NodeNames: append([]string(nil), n.NodeNames...), Message: n.Message}
}

// reconnect reopens the stream after a break, with capped exponential
// backoff, for ever or for ReconnectFor.
func (s *Source) reconnect(ctx context.Context) error {
	start := time.Now()
	var err error
	for attempt := 1; ; attempt++ {
		wait := s.opts.Backoff.Delay(attempt)
		if s.opts.OnReconnect != nil {
			s.opts.OnReconnect(attempt, s.Live().LastError, wait)
		}
		if s.opts.ReconnectFor > 0 && time.Since(start)+wait > s.opts.ReconnectFor {
			last := s.Live().LastError
			if err != nil {
				last = err
			}
			return fmt.Errorf("gave up reconnecting after %v: %w", s.opts.ReconnectFor.Round(time.Second), classify(s.opts.Server, s.opts.TLS.Enabled, last))
		}
		if !sleepCtx(ctx, wait) {
			return ctx.Err()
		}
		s.setLive(func(l *LiveStats) { l.Reconnects++ })
		if err = s.openStream(ctx); err == nil {
			s.overlap = !s.boundary.time.IsZero()
			return nil
		}
		if !retryable(err) {
			return classify(s.opts.Server, s.opts.TLS.Enabled, err)
		}
		s.setLive(func(l *LiveStats) { l.LastError = err })
	}
}

// Stats reports what has been read so far; it is safe to call while
// another goroutine reads.
func (s *Source) Stats() observe.Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats.Add(observe.Stats{})
}

// Live reports the connection's counters; safe for concurrent use.
func (s *Source) Live() LiveStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live
}

func (s *Source) setLive(fn func(*LiveStats)) {
	s.mu.Lock()
	fn(&s.live)
	s.mu.Unlock()
}

// ServerStatus asks the server for its status, within RequestTimeout.
func (s *Source) ServerStatus(ctx context.Context) (*observerpb.ServerStatusResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.RequestTimeout)
	defer cancel()
	st, err := s.client.ServerStatus(ctx, &observerpb.ServerStatusRequest{})
	if err != nil {
		return nil, classify(s.opts.Server, s.opts.TLS.Enabled, err)
	}
	return st, nil
}

// Close ends the stream and the connection.
func (s *Source) Close() error {
	if s.unwatch != nil {
		s.unwatch()
	}
	s.closeStream()
	s.done = true
	return s.conn.Close()
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
