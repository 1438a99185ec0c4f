package graph

import (
	"testing"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	"github.com/google/go-cmp/cmp"

	"github.com/netpolgen/netpolgen/pkg/observe"
)

func TestDirectionOf(t *testing.T) {
	tests := []struct {
		name string
		spec flowSpec
		want flowDirection
	}{
		{"L7 request opens", flowSpec{l7: &observe.L7{Type: flowpb.L7FlowType_REQUEST}, reply: observe.ReplyTrue}, opening},
		{"L7 response answers", flowSpec{l7: &observe.L7{Type: flowpb.L7FlowType_RESPONSE}, reply: observe.ReplyFalse}, answering},
		{"L7 sample says nothing, is_reply does", flowSpec{l7: &observe.L7{Type: flowpb.L7FlowType_SAMPLE}, reply: observe.ReplyTrue}, answering},
		{"is_reply true", flowSpec{reply: observe.ReplyTrue, flags: observe.FlagACK}, answering},
		{"is_reply false beats flags", flowSpec{reply: observe.ReplyFalse, flags: observe.FlagACK | observe.FlagPSH}, opening},
		{"legacy reply", flowSpec{legacyReply: true, flags: observe.FlagACK}, answering},
		{"SYN opens", flowSpec{flags: observe.FlagSYN}, opening},
		{"SYN-ACK answers", flowSpec{flags: observe.FlagSYN | observe.FlagACK}, answering},
		{"bare ACK says nothing", flowSpec{flags: observe.FlagACK}, undirected},
		{"FIN-ACK says nothing", flowSpec{flags: observe.FlagFIN | observe.FlagACK}, undirected},
		{"UDP without is_reply says nothing", flowSpec{proto: observe.ProtoUDP}, undirected},
		{"ICMPv4 echo request", flowSpec{proto: observe.ProtoICMPv4, icmpType: 8}, opening},
		{"ICMPv4 echo reply", flowSpec{proto: observe.ProtoICMPv4, icmpType: 0}, answering},
		{"ICMPv6 echo request", flowSpec{proto: observe.ProtoICMPv6, icmpType: 128}, opening},
		{"ICMPv6 echo reply", flowSpec{proto: observe.ProtoICMPv6, icmpType: 129}, answering},
		{"ICMPv4 unreachable says nothing", flowSpec{proto: observe.ProtoICMPv4, icmpType: 3}, undirected},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := directionOf(tc.spec.flow()); got != tc.want {
				t.Errorf("directionOf = %d, want %d", got, tc.want)
			}
		})
	}
}

var (
	client = pod("shop", "frontend-7d9f8c6b5-aaaaa", "app=frontend")
	server = pod("shop", "cart-5c9f7d6b8-bbbbb", "app=cart")
)

const (
	clientIP = "10.0.1.10"
	serverIP = "10.0.2.20"
)

// toServer is a flow from client:port to server:8080 over proto.
func toServer(port uint16, proto observe.Protocol) flowSpec {
	return flowSpec{src: client, dst: server, srcIP: clientIP, dstIP: serverIP, srcPort: port, dstPort: 8080, proto: proto}
}

// fromServer is the reverse of toServer.
func fromServer(port uint16, proto observe.Protocol) flowSpec {
	return flowSpec{src: server, dst: client, srcIP: serverIP, dstIP: clientIP, srcPort: 8080, dstPort: port, proto: proto}
}

func with(s flowSpec, f func(*flowSpec)) flowSpec { f(&s); return s }

func TestDirectionRulesMakeEdges(t *testing.T) {
	const want = "shop/frontend -> shop/cart 8080/TCP"
	tests := []struct {
		name          string
		specs         []flowSpec
		want          []string
		wantDirection Direction
	}{
		{
			name:  "SYN from the client",
			specs: []flowSpec{with(toServer(40001, observe.ProtoTCP), func(s *flowSpec) { s.flags = observe.FlagSYN })},
			want:  []string{want}, wantDirection: DirectionObserved,
		},
		{
			name:  "only the SYN-ACK seen",
			specs: []flowSpec{with(fromServer(40001, observe.ProtoTCP), func(s *flowSpec) { s.flags = observe.FlagSYN | observe.FlagACK })},
			want:  []string{want}, wantDirection: DirectionObserved,
		},
		{
			name:  "only replies by is_reply",
			specs: []flowSpec{with(fromServer(40001, observe.ProtoTCP), func(s *flowSpec) { s.flags = observe.FlagACK; s.reply = observe.ReplyTrue })},
			want:  []string{want}, wantDirection: DirectionObserved,
		},
		{
			name:  "only replies by the legacy reply field",
			specs: []flowSpec{with(fromServer(40001, observe.ProtoTCP), func(s *flowSpec) { s.flags = observe.FlagACK; s.legacyReply = true })},
			want:  []string{want}, wantDirection: DirectionObserved,
		},
		{
			name: "bare ACKs both ways, listener known from a SYN on another connection",
			specs: []flowSpec{
				with(toServer(40001, observe.ProtoTCP), func(s *flowSpec) { s.flags = observe.FlagACK }),
				with(fromServer(40001, observe.ProtoTCP), func(s *flowSpec) { s.flags = observe.FlagACK }),
				with(toServer(40002, observe.ProtoTCP), func(s *flowSpec) { s.flags = observe.FlagSYN }),
			},
			want: []string{want}, wantDirection: DirectionObserved,
		},
		{
			name: "UDP on a high port decided by a request seen elsewhere, not by port numbers",
			specs: []flowSpec{
				// statsd on 8125 would look like the ephemeral side next to 53000 only by luck;
				// the L7-less reply flow from 8125 marks it a listener.
				{src: client, dst: server, srcIP: clientIP, dstIP: serverIP, proto: observe.ProtoUDP, srcPort: 53000, dstPort: 8125},
				{src: server, dst: client, srcIP: serverIP, dstIP: clientIP, proto: observe.ProtoUDP, srcPort: 8125, dstPort: 41000, reply: observe.ReplyTrue},
			},
			want: []string{"shop/frontend -> shop/cart 8125/UDP"}, wantDirection: DirectionObserved,
		},
		{
			name: "undirected UDP only, one server port against many client ports (fan-out)",
			specs: []flowSpec{
				{src: client, dst: server, srcIP: clientIP, dstIP: serverIP, proto: observe.ProtoUDP, srcPort: 5353, dstPort: 40001},
				{src: client, dst: server, srcIP: clientIP, dstIP: serverIP, proto: observe.ProtoUDP, srcPort: 5353, dstPort: 40002},
				{src: client, dst: server, srcIP: clientIP, dstIP: serverIP, proto: observe.ProtoUDP, srcPort: 5353, dstPort: 40003},
			},
			// The source's 5353 served three ports: the source is the
			// server, these are its answers.
			want: []string{"shop/cart -> shop/frontend 5353/UDP"}, wantDirection: DirectionInferred,
		},
		{
			name:  "one undirected UDP flow with nothing to go on is guessed and uncertain",
			specs: []flowSpec{{src: client, dst: server, srcIP: clientIP, dstIP: serverIP, proto: observe.ProtoUDP, srcPort: 45000, dstPort: 8125}},
			want:  []string{"shop/frontend -> shop/cart 8125/UDP"}, wantDirection: DirectionGuessed,
		},
		{
			name:  "ICMP echo reply belongs to the request's edge",
			specs: []flowSpec{{src: server, dst: client, srcIP: serverIP, dstIP: clientIP, proto: observe.ProtoICMPv4, icmpType: 0}},
			want:  []string{"shop/frontend -> shop/cart ICMPv4 type 8"}, wantDirection: DirectionObserved,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := buildFrom(t, Options{}, tc.specs...)
			if diff := cmp.Diff(tc.want, edgeLines(g, g.Edges)); diff != "" {
				t.Fatalf("edges (-want +got):\n%s", diff)
			}
			e := g.Edges[0]
			if e.Direction != tc.wantDirection {
				t.Errorf("direction = %s, want %s", e.Direction, tc.wantDirection)
			}
			if e.Uncertain != (tc.wantDirection == DirectionGuessed) {
				t.Errorf("uncertain = %v with direction %s", e.Uncertain, e.Direction)
			}
			if e.Count != uint64(len(tc.specs)) {
				t.Errorf("count = %d, want %d", e.Count, len(tc.specs))
			}
		})
	}
}

func TestGuessListener(t *testing.T) {
	tests := []struct {
		src, dst   uint16
		dstListens bool
	}{
		{40000, 53, true},
		{53, 40000, false},
		{8125, 45000, false},
		{45000, 8125, true},
		// Neither side stands out: the lower port is taken to listen.
		{8080, 9090, false},
		{9090, 8080, true},
		{50000, 60000, false},
	}
	for _, tc := range tests {
		if got := guessListener(tc.src, tc.dst); got != tc.dstListens {
			t.Errorf("guessListener(%d, %d) = %v, want %v", tc.src, tc.dst, got, tc.dstListens)
		}
	}
}

func TestDroppedFlowsAreEvidenceNotTraffic(t *testing.T) {
	g := buildFrom(t, Options{},
		with(toServer(40001, observe.ProtoTCP), func(s *flowSpec) { s.flags = observe.FlagSYN; s.verdict = flowpb.Verdict_DROPPED }),
		with(toServer(40002, observe.ProtoTCP), func(s *flowSpec) { s.flags = observe.FlagSYN; s.verdict = flowpb.Verdict_DROPPED }),
	)
	if len(g.Edges) != 1 {
		t.Fatalf("got %d edges, want 1", len(g.Edges))
	}
	e := g.Edges[0]
	if e.Allowed() || e.Dropped != 2 || e.Verdicts != VerdictDropped {
		t.Errorf("edge = %+v, want two dropped flows, not allowed", e)
	}
	if len(g.PolicyEdges()) != 0 {
		t.Errorf("PolicyEdges = %v, want none", edgeLines(g, g.PolicyEdges()))
	}
}

func TestSameConnectionSeenFromBothNodesIsOneConnection(t *testing.T) {
	// The client's node sees frontend -> cart; the server's node sees the
	// same connection (same client port, server address and port) coming
	// from remote-node, the client's identity lost in translation.
	remote := reserved("remote-node")
	var specs []flowSpec
	for port := uint16(40001); port <= 40003; port++ {
		specs = append(specs,
			with(toServer(port, observe.ProtoTCP), func(s *flowSpec) { s.flags = observe.FlagSYN; s.node = "node-a" }),
			with(toServer(port, observe.ProtoTCP), func(s *flowSpec) {
				s.flags, s.node, s.src, s.srcIP = observe.FlagSYN, "node-b", remote, "10.128.0.69"
			}),
		)
	}
	// A genuine connection from the node itself (a probe) must stay.
	specs = append(specs, with(toServer(51000, observe.ProtoTCP), func(s *flowSpec) {
		s.flags, s.node, s.src, s.srcIP = observe.FlagSYN, "node-b", remote, "10.128.0.69"
	}))
	g := buildFrom(t, Options{}, specs...)
	got := edgeLines(g, g.PolicyEdges())
	want := []string{"remote-node -> shop/cart 8080/TCP", "shop/frontend -> shop/cart 8080/TCP"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("with a probe: policy edges (-want +got):\n%s", diff)
	}

	g = buildFrom(t, Options{}, specs[:len(specs)-1]...)
	got = edgeLines(g, g.PolicyEdges())
	if diff := cmp.Diff([]string{"shop/frontend -> shop/cart 8080/TCP"}, got); diff != "" {
		t.Errorf("mirror only: policy edges (-want +got):\n%s", diff)
	}
	var mirror *Edge
	for i := range g.Edges {
		if g.Edges[i].Mirror {
			mirror = &g.Edges[i]
		}
	}
	if mirror == nil || g.Peers[mirror.MirrorOf].String() != "shop/frontend" || g.Coverage.MirrorFlows != 3 {
		t.Errorf("mirror edge = %+v, coverage %+v; want a mirror of shop/frontend with 3 flows", mirror, g.Coverage)
	}
}

func TestForwardedAtEgressButDroppedAtIngressIsNotAllowed(t *testing.T) {
	syn := func(port uint16, node string, v flowpb.Verdict) flowSpec {
		return with(toServerSYN(port), func(s *flowSpec) { s.node, s.verdict, s.reply = node, v, observe.ReplyFalse })
	}
	denied := buildFrom(t, Options{},
		syn(40001, "node-a", flowpb.Verdict_FORWARDED), syn(40001, "node-b", flowpb.Verdict_DROPPED),
		syn(40002, "node-a", flowpb.Verdict_FORWARDED), syn(40002, "node-b", flowpb.Verdict_DROPPED),
	)
	if e := denied.Edges[0]; e.Allowed() {
		t.Errorf("denied at ingress: edge %+v is allowed", e)
	}
	// The same, but one attempt was answered: the traffic does get through
	// (a drop, say, during a policy change).
	answered := buildFrom(t, Options{},
		syn(40001, "node-a", flowpb.Verdict_FORWARDED), syn(40001, "node-b", flowpb.Verdict_DROPPED),
		syn(40002, "node-a", flowpb.Verdict_FORWARDED),
		with(fromServer(40002, observe.ProtoTCP), func(s *flowSpec) { s.flags = observe.FlagSYN | observe.FlagACK }),
	)
	if e := answered.Edges[0]; !e.Allowed() || e.Answered != 1 {
		t.Errorf("answered: edge %+v, want allowed with one answer", e)
	}
}

// Two connections seen both ways are two counterparts of the server
// port, not four: below the fan-out threshold, so the port heuristic
// decides and says it guessed.
func TestFanOutCountsConnectionsNotDirections(t *testing.T) {
	var specs []flowSpec
	for _, port := range []uint16{40001, 40002} {
		specs = append(specs,
			with(toServer(port, observe.ProtoTCP), func(s *flowSpec) { s.flags = observe.FlagACK }),
			with(fromServer(port, observe.ProtoTCP), func(s *flowSpec) { s.flags = observe.FlagACK }),
		)
	}
	g := buildFrom(t, Options{}, specs...)
	if len(g.Edges) != 1 || g.Edges[0].Direction != DirectionGuessed {
		t.Errorf("edges %v direction %s, want one guessed edge", edgeLines(g, g.Edges), g.Edges[0].Direction)
	}
	g = buildFrom(t, Options{}, append(specs, with(toServer(40003, observe.ProtoTCP), func(s *flowSpec) { s.flags = observe.FlagACK }))...)
	if len(g.Edges) != 1 || g.Edges[0].Direction != DirectionInferred {
		t.Errorf("edges %v direction %s, want one inferred edge with a third client port", edgeLines(g, g.Edges), g.Edges[0].Direction)
	}
}

// A learner in segments primes each segment with the graph so far, so an
// undirected flow is directed by a listener seen in an earlier segment.
func TestPrimeCarriesListenersAcrossSegments(t *testing.T) {
	first := buildFrom(t, Options{}, flowSpec{
		src: server, dst: client, srcIP: serverIP, dstIP: clientIP, proto: observe.ProtoUDP, srcPort: 8125, dstPort: 45000, reply: observe.ReplyTrue,
	})
	// Alone, the second segment has no evidence: the port heuristic picks
	// 8125 (below the ephemeral range) and marks the edge guessed.
	undirected := flowSpec{src: server, dst: client, srcIP: serverIP, dstIP: clientIP, proto: observe.ProtoUDP, srcPort: 8125, dstPort: 46000}
	alone := buildFrom(t, Options{}, undirected)
	if alone.Edges[0].Direction != DirectionGuessed {
		t.Fatalf("unprimed segment: direction %s, want guessed", alone.Edges[0].Direction)
	}
	b := NewBuilder(Options{})
	b.Prime(first)
	b.Add(undirected.flow())
	second := b.Finish()
	want := []string{"shop/frontend -> shop/cart 8125/UDP"}
	if diff := cmp.Diff(want, edgeLines(second, second.Edges)); diff != "" {
		t.Fatalf("primed segment edges (-want +got):\n%s", diff)
	}
	if e := second.Edges[0]; e.Direction != DirectionInferred || e.Uncertain {
		t.Errorf("primed segment: direction %s uncertain %v, want inferred", e.Direction, e.Uncertain)
	}
	merged := mustMerge(t, first, second)
	if len(merged.Edges) != 1 || merged.Edges[0].Count != 2 || merged.Edges[0].Direction != DirectionObserved {
		t.Errorf("merged: %v", edgeLines(merged, merged.Edges))
	}
}
