package graph

import (
	"strings"
	"time"

	flowpb "github.com/cilium/cilium/api/v1/flow"

	"github.com/netpolgen/netpolgen/pkg/observe"
)

// Edge is one connection kind: From opened connections to To's Port over
// Protocol (or sent ICMPType).
type Edge struct {
	From, To PeerID
	Protocol observe.Protocol
	// Port is the destination (listening) port, 0 for ICMP.
	Port uint16
	// ICMPType is the type of the opening ICMP message (8 for an IPv4
	// echo request, 128 for IPv6), 0 for other protocols.
	ICMPType uint8
	// Count is the number of flows folded into the edge, replies
	// included; Dropped how many of them were dropped; Answered how many
	// were let-through answers from the server (replies, L7 responses).
	Count    uint64
	Dropped  uint64
	Answered uint64
	// FirstSeen and LastSeen bound the flows' times.
	FirstSeen, LastSeen time.Time
	Verdicts            Verdicts
	// Direction says how the edge's direction was established: by the
	// flows themselves, inferred from the capture, or guessed.
	Direction Direction
	// Uncertain is true when every flow of the edge was oriented by the
	// port-number heuristic alone.
	Uncertain bool
	// Mirror marks an edge that repeats another edge's connections as
	// seen at the server's node with the client translated (to
	// remote-node, host or world); MirrorOf is the real client.
	Mirror   bool
	MirrorOf PeerID
	// Services are the Kubernetes Services ("ns/name") that fronted To.
	Services []string
	// HTTP are method and path templates seen ("GET /reviews/{id}").
	HTTP []string
	// DNSNames are names the destination answered to, from the flows'
	// destination_names (for external peers).
	DNSNames []string
	// DNSQueries are the names looked up over the edge (the edge to a
	// DNS server), from L7 DNS records.
	DNSQueries []string
	// L7Truncated says some L7 evidence was left out (MaxL7).
	L7Truncated bool
	// L7 is what L7 rules need (routes, lookups, Kafka topics), or nil
	// when the edge had no L7 requests (see l7table.go).
	L7 *L7

	// sample holds the smallest connection fingerprints seen (state, for
	// mirror detection).
	sample []uint64
}

// Allowed reports whether the edge's traffic got through: some flow was
// let through, and either none was dropped or the server was seen
// answering. An edge seen only dropped, or forwarded at the client's
// egress but dropped at the server's ingress with no answer ever, is
// evidence, not traffic to allow.
func (e *Edge) Allowed() bool {
	return e.Verdicts&allowedVerdicts != 0 && (e.Dropped == 0 || e.Answered > 0)
}

// Direction is how an edge's direction was established.
type Direction uint8

const (
	// DirectionObserved: flows said it (is_reply, reply, TCP flags, L7
	// type, ICMP echo type).
	DirectionObserved Direction = iota
	// DirectionInferred: a listener seen elsewhere in the capture.
	DirectionInferred
	// DirectionGuessed: port numbers alone; the edge is Uncertain.
	DirectionGuessed
)

var directionNames = [...]string{"observed", "inferred", "guessed"}

func (d Direction) String() string {
	if int(d) < len(directionNames) {
		return directionNames[d]
	}
	return "unknown"
}

// Verdicts is the set of verdicts an edge's flows had.
type Verdicts uint8

// The verdicts Hubble reports, one bit each.
const (
	VerdictForwarded Verdicts = 1 << iota
	VerdictDropped
	VerdictAudit
	VerdictRedirected
	VerdictError
	VerdictTraced
	VerdictTranslated
)

const allowedVerdicts = VerdictForwarded | VerdictAudit | VerdictRedirected | VerdictTraced | VerdictTranslated

var verdictNames = [...]string{"forwarded", "dropped", "audit", "redirected", "error", "traced", "translated"}

func verdictOf(v flowpb.Verdict) Verdicts {
	switch v {
	case flowpb.Verdict_FORWARDED:
		return VerdictForwarded
	case flowpb.Verdict_DROPPED:
		return VerdictDropped
	case flowpb.Verdict_AUDIT:
		return VerdictAudit
	case flowpb.Verdict_REDIRECTED:
		return VerdictRedirected
	case flowpb.Verdict_ERROR:
		return VerdictError
	case flowpb.Verdict_TRACED:
		return VerdictTraced
	case flowpb.Verdict_TRANSLATED:
		return VerdictTranslated
	}
	return 0
}

// Names lists the verdicts in a fixed order.
func (v Verdicts) Names() []string {
	var out []string
	for i, n := range verdictNames {
		if v&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

func (v Verdicts) String() string { return strings.Join(v.Names(), ",") }

func parseVerdicts(names []string) (Verdicts, bool) {
	var v Verdicts
	for _, n := range names {
		found := false
		for i, vn := range verdictNames {
			if vn == n {
				v |= 1 << i
				found = true
			}
		}
		if !found {
			return 0, false
		}
	}
	return v, true
}

// DNSRecord is what DNS responses said about a name.
type DNSRecord struct {
	Name string
	// IPs are the answered addresses, sorted, capped.
	IPs []string
	// TTL is the largest TTL seen (seconds).
	TTL                 uint32
	FirstSeen, LastSeen time.Time
}

// Coverage counts what a policy learned from this graph may be missing or
// where the graph had to judge.
type Coverage struct {
	Flows uint64 `json:"flows"`
	// FirstFlow and LastFlow bound the times of the flows read: the
	// learning window, which can be longer than the span of the edges.
	FirstFlow time.Time `json:"first_flow,omitzero"`
	LastFlow  time.Time `json:"last_flow,omitzero"`
	// LostEvents counts events lost before they reached the reader, by
	// where they were lost.
	LostEvents  map[string]uint64 `json:"lost_events,omitempty"`
	LostNotices uint64            `json:"lost_notices,omitempty"`
	// ReplyFlows were the answering half of a connection.
	ReplyFlows uint64 `json:"reply_flows"`
	// UndirectedFlows said nothing about their direction; of those,
	// InferredFlows were oriented by evidence and GuessedFlows by port
	// numbers alone.
	UndirectedFlows uint64 `json:"undirected_flows"`
	InferredFlows   uint64 `json:"inferred_flows"`
	GuessedFlows    uint64 `json:"guessed_flows"`
	// UncertainEdges counts edges whose direction was guessed.
	UncertainEdges uint64 `json:"uncertain_edges"`
	// InClusterWorldFlows went to or came from an address flagged
	// InClusterIP.
	InClusterWorldFlows uint64 `json:"in_cluster_world_flows"`
	// MirrorFlows repeated connections already counted from the client's
	// side (see Edge.Mirror).
	MirrorFlows uint64 `json:"mirror_flows"`
	// Skipped counts flows left out, by reason ("health", "init",
	// "node-filter", "no-address", "no-protocol").
	Skipped map[string]uint64 `json:"skipped,omitempty"`
	// MalformedL7 counts L7 requests left out of routes because their
	// method or URL was malformed; MalformedL7Notes says where the first
	// few were ("file:line: why").
	MalformedL7      uint64   `json:"malformed_l7,omitempty"`
	MalformedL7Notes []string `json:"malformed_l7_notes,omitempty"`
}
