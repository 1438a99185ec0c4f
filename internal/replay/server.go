package replay

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sort"
	"time"

	observerpb "github.com/cilium/cilium/api/v1/observer"
	relaypb "github.com/cilium/cilium/api/v1/relay"
	"github.com/cilium/cilium/pkg/hubble/filters"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/netpolgen/netpolgen/pkg/observe/wire"
)

// Version is what ServerStatus and GetNodes report as the server version.
const Version = "netpolgen-replay"

// Options tunes how a capture is served.
type Options struct {
	// Rate paces events at this many per second; 0 releases the whole
	// capture at once.
	Rate float64
	// Loop repeats the capture forever, shifting each round's times past
	// the previous round's.
	Loop bool
	// BufferSize is how many events the simulated ring buffer holds; 0
	// holds one whole capture.
	BufferSize int
}

// Server is a Hubble observer that serves a capture.
type Server struct {
	observerpb.UnimplementedObserverServer
	tl         *timeline
	nodes      []string
	namespaces []string
	// builders are Hubble's filter builders, kept per server rather than
	// in a package variable.
	builders []filters.OnBuildFilter
}

// NewServer returns a server that starts playing the capture now.
func NewServer(c *Capture, opts Options) *Server {
	s := &Server{tl: newTimeline(c, opts, time.Now()), nodes: c.Nodes, builders: newFilterBuilders()}
	seen := map[string]bool{}
	for _, ev := range c.Events {
		for _, ns := range []string{ev.Resp.GetFlow().GetSource().GetNamespace(), ev.Resp.GetFlow().GetDestination().GetNamespace()} {
			if ns != "" && !seen[ns] {
				seen[ns] = true
				s.namespaces = append(s.namespaces, ns)
			}
		}
	}
	sort.Strings(s.namespaces)
	return s
}

// NewGRPCServer returns a gRPC server with the observer service
// registered. Its codec sends the capture's pre-marshalled bytes as they
// are; peers see ordinary protobuf.
func (s *Server) NewGRPCServer(opts ...grpc.ServerOption) *grpc.Server {
	base := []grpc.ServerOption{
		grpc.ForceServerCodecV2(wire.RawCodec{}),
		// Large writes: a follower is sent thousands of small messages a
		// second, and fewer syscalls leave the CPU to the clients.
		grpc.WriteBufferSize(256 << 10),
		grpc.InitialWindowSize(1 << 20),
		grpc.InitialConnWindowSize(1 << 20),
	}
	g := grpc.NewServer(append(base, opts...)...)
	observerpb.RegisterObserverServer(g, s)
	// hubble status checks the standard health service before asking for
	// the server status.
	hs := health.NewServer()
	// Hubble checks the name "hubble.server.Observer", not the proto's.
	for _, name := range []string{"hubble.server.Observer", observerpb.Observer_ServiceDesc.ServiceName} {
		hs.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
	}
	healthpb.RegisterHealthServer(g, hs)
	return g
}

// Serve serves on lis until ctx is done, then stops gracefully (streams
// that follow forever are cut after a short grace period).
func (s *Server) Serve(ctx context.Context, lis net.Listener, opts ...grpc.ServerOption) error {
	g := s.NewGRPCServer(opts...)
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			stopped := make(chan struct{})
			go func() { g.GracefulStop(); close(stopped) }()
			select {
			case <-stopped:
			case <-time.After(2 * time.Second):
				g.Stop()
			}
		case <-done:
		}
	}()
	err := g.Serve(lis)
	close(done)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// GetFlows implements the observer API with Hubble's semantics for
// number, first, follow, since, until and the whitelist and blacklist.
func (s *Server) GetFlows(req *observerpb.GetFlowsRequest, stream observerpb.Observer_GetFlowsServer) error {
	if req.GetFirst() && req.GetFollow() {
		return status.Error(codes.InvalidArgument, "first cannot be specified with follow")
	}
	mask, err := newFieldMask(req.GetFieldMask())
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	ctx := stream.Context()
	q, err := newQuery(ctx, req, s.builders)
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	tl := s.tl
	written := tl.released(time.Now())
	i := s.startIndex(q, written)
	var sent uint64
	for {
		if !q.follow && q.number > 0 && sent >= q.number {
			return nil
		}
		if !q.follow && i >= written {
			return nil
		}
		if q.follow {
			if q.until != nil && tl.exhausted(i) {
				// Nothing later than until can ever come: end as Hubble
				// would on the first event past it.
				return nil
			}
			if err := s.waitFor(ctx, i); err != nil {
				return nil
			}
		}
		ev := tl.event(i)
		i++
		// Lost-events and node notices are never asked for, so, as in
		// Hubble and Relay, no filter or time range holds them back.
		if ev.Resp.GetFlow() != nil {
			if q.until != nil && ev.Time.After(*q.until) {
				return nil
			}
			if q.since != nil && ev.Time.Before(*q.since) {
				continue
			}
			if !q.match(ev) {
				continue
			}
		}
		if ev, err = mask.apply(ev); err != nil {
			return status.Error(codes.Internal, err.Error())
		}
		if err := stream.SendMsg(ev.Frame()); err != nil {
			return err
		}
		sent++
	}
}

// startIndex finds where a request starts reading, as Hubble rewinds its
// ring: from the oldest event for --first, from now for a bare follow,
// else back to the first matching event at or after since, or back over
// number matching events.
func (s *Server) startIndex(q *query, written int64) int64 {
	oldest := s.tl.oldest(written)
	switch {
	case q.first && q.since == nil:
		return oldest
	case q.follow && q.number == 0 && q.since == nil:
		return written
	case q.number == 0 && q.since == nil:
		// Everything held is asked for: scanning back would only run
		// every filter twice.
		return oldest
	}
	var count uint64
	for i := written - 1; i >= oldest; i-- {
		ev := s.tl.event(i)
		if ev.Resp.GetFlow() == nil || !q.match(ev) {
			continue
		}
		count++
		if q.since != nil {
			if ev.Time.Before(*q.since) {
				return i + 1
			}
		} else if count == q.number {
			return i
		}
	}
	return oldest
}

// waitFor blocks until the event at index i is released, or returns the
// context's error: a follower waits forever once the capture is done, as
// on a quiet cluster.
func (s *Server) waitFor(ctx context.Context, i int64) error {
	for {
		if i < s.tl.followLimit(time.Now()) {
			return ctx.Err()
		}
		if s.tl.exhausted(i) || s.tl.rate <= 0 {
			<-ctx.Done()
			return ctx.Err()
		}
		timer := time.NewTimer(time.Until(s.tl.releaseTime(i)))
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
	}
}

// query is a compiled GetFlowsRequest.
type query struct {
	number       uint64
	first        bool
	follow       bool
	since, until *time.Time
	white, black filters.FilterFuncs
}

func newQuery(ctx context.Context, req *observerpb.GetFlowsRequest, builders []filters.OnBuildFilter) (*query, error) {
	q := &query{number: req.GetNumber(), first: req.GetFirst(), follow: req.GetFollow()}
	if ts := req.GetSince(); ts != nil {
		if err := ts.CheckValid(); err != nil {
			return nil, fmt.Errorf("since: %w", err)
		}
		t := ts.AsTime()
		q.since = &t
	}
	if ts := req.GetUntil(); ts != nil {
		if err := ts.CheckValid(); err != nil {
			return nil, fmt.Errorf("until: %w", err)
		}
		t := ts.AsTime()
		q.until = &t
	}
	var err error
	if q.white, err = buildFilters(ctx, req.GetWhitelist(), builders); err != nil {
		return nil, err
	}
	if q.black, err = buildFilters(ctx, req.GetBlacklist(), builders); err != nil {
		return nil, err
	}
	return q, nil
}

// match applies the whitelist and blacklist to a flow event.
func (q *query) match(ev Event) bool {
	if len(q.white) == 0 && len(q.black) == 0 {
		return true // spare the wrapper when nothing filters
	}
	return filters.Apply(q.white, q.black, hubbleEvent(ev))
}

// ServerStatus reports the simulated ring buffer.
func (s *Server) ServerStatus(context.Context, *observerpb.ServerStatusRequest) (*observerpb.ServerStatusResponse, error) {
	written := s.tl.released(time.Now())
	return &observerpb.ServerStatusResponse{
		NumFlows:          uint64(written - s.tl.oldest(written)),
		MaxFlows:          uint64(s.tl.capacity),
		SeenFlows:         uint64(written),
		UptimeNs:          uint64(time.Since(s.tl.start)),
		NumConnectedNodes: wrapUint32(len(s.nodes)),
		Version:           Version,
	}, nil
}

// GetNodes lists the nodes the capture's events came from, all connected.
func (s *Server) GetNodes(context.Context, *observerpb.GetNodesRequest) (*observerpb.GetNodesResponse, error) {
	resp := &observerpb.GetNodesResponse{}
	uptime := uint64(time.Since(s.tl.start))
	written := s.tl.released(time.Now())
	for _, n := range s.nodes {
		// The capture does not say how the ring was shared among nodes:
		// each reports the whole simulated buffer.
		resp.Nodes = append(resp.Nodes, &observerpb.Node{
			Name: n, Version: Version, State: relaypb.NodeState_NODE_CONNECTED, UptimeNs: uptime,
			NumFlows: uint64(written - s.tl.oldest(written)), MaxFlows: uint64(s.tl.capacity), SeenFlows: uint64(written),
		})
	}
	return resp, nil
}

// GetNamespaces lists the namespaces the capture's flows name.
func (s *Server) GetNamespaces(context.Context, *observerpb.GetNamespacesRequest) (*observerpb.GetNamespacesResponse, error) {
	resp := &observerpb.GetNamespacesResponse{}
	for _, ns := range slices.Clone(s.namespaces) {
		resp.Namespaces = append(resp.Namespaces, &observerpb.Namespace{Namespace: ns})
	}
	return resp, nil
}

func wrapUint32(n int) *wrapperspb.UInt32Value { return wrapperspb.UInt32(uint32(n)) }
