package observe

import (
	"net/netip"
	"time"

	flowpb "github.com/cilium/cilium/api/v1/flow"
)

// Flow is the part of a Hubble flow record that netpolgen uses. Slices and
// strings in a Flow may be shared with other flows from the same decoder
// (labels are interned), so treat a Flow as read-only.
type Flow struct {
	Time     time.Time
	NodeName string

	Verdict    flowpb.Verdict
	DropReason flowpb.DropReason
	Type       flowpb.FlowType
	// EventType is Cilium's monitor event type (4 trace, 5 policy verdict,
	// 1 drop, 129 L7) and EventSubType its sub type.
	EventType    int32
	EventSubType int32

	IPVersion flowpb.IPVersion
	SrcIP     netip.Addr
	DstIP     netip.Addr
	// SrcXlated is the source address the packet carried when Cilium had
	// translated it (a reply rev-NATed to a Service's frontend, SNAT);
	// SrcIP is then the address before, and the source port may be the
	// translated one.
	SrcXlated netip.Addr
	L4        L4

	Source      Endpoint
	Destination Endpoint

	SourceNames        []string
	DestinationNames   []string
	SourceService      Service
	DestinationService Service

	TrafficDirection flowpb.TrafficDirection
	ObservationPoint flowpb.TraceObservationPoint
	// IsReply is what the flow's is_reply field says, or ReplyUnknown when
	// the field is absent (older Hubble, some observation points).
	IsReply Reply
	// LegacyReply is the deprecated "reply" field. It is only ever seen set
	// to true, so false means "not said".
	LegacyReply bool

	L7 *L7
}

// Reply is a tri-state answer to "is this flow the reply half of a
// connection?".
type Reply uint8

const (
	ReplyUnknown Reply = iota
	ReplyFalse
	ReplyTrue
)

func (r Reply) String() string {
	switch r {
	case ReplyFalse:
		return "false"
	case ReplyTrue:
		return "true"
	}
	return "unknown"
}

// Protocol is the layer-4 protocol of a flow.
type Protocol uint8

const (
	ProtoUnknown Protocol = iota
	ProtoTCP
	ProtoUDP
	ProtoSCTP
	ProtoICMPv4
	ProtoICMPv6
	ProtoVRRP
	ProtoIGMP
)

func (p Protocol) String() string {
	switch p {
	case ProtoTCP:
		return "TCP"
	case ProtoUDP:
		return "UDP"
	case ProtoSCTP:
		return "SCTP"
	case ProtoICMPv4:
		return "ICMPv4"
	case ProtoICMPv6:
		return "ICMPv6"
	case ProtoVRRP:
		return "VRRP"
	case ProtoIGMP:
		return "IGMP"
	}
	return "unknown"
}

// ParseProtocol is the inverse of Protocol.String (case-insensitive).
func ParseProtocol(s string) (Protocol, bool) {
	for p := ProtoTCP; p <= ProtoIGMP; p++ {
		if equalFold(p.String(), s) {
			return p, true
		}
	}
	return ProtoUnknown, false
}

// HasPorts reports whether the protocol carries port numbers.
func (p Protocol) HasPorts() bool { return p == ProtoTCP || p == ProtoUDP || p == ProtoSCTP }

// IsICMP reports whether the protocol is ICMPv4 or ICMPv6.
func (p Protocol) IsICMP() bool { return p == ProtoICMPv4 || p == ProtoICMPv6 }

// TCPFlags is a bit set of the TCP flags a flow carries.
type TCPFlags uint16

const (
	FlagFIN TCPFlags = 1 << iota
	FlagSYN
	FlagRST
	FlagPSH
	FlagACK
	FlagURG
	FlagECE
	FlagCWR
	FlagNS
)

// L4 is the transport header summary of a flow.
type L4 struct {
	Protocol Protocol
	SrcPort  uint16
	DstPort  uint16
	Flags    TCPFlags
	// ICMPType and ICMPCode are set for ICMPv4 and ICMPv6 (and the type
	// for VRRP and IGMP).
	ICMPType uint8
	ICMPCode uint8
}

// Endpoint is one side of a flow as Cilium identified it.
type Endpoint struct {
	ID          uint32
	Identity    uint32
	ClusterName string
	Namespace   string
	PodName     string
	// Labels are Cilium's "source:key=value" labels, for example
	// "k8s:app=reviews" or "reserved:world".
	Labels    []string
	Workloads []Workload
}

// Workload is the owning controller Hubble attached to an endpoint.
type Workload struct {
	Name string
	Kind string
}

// Service is the Kubernetes Service that fronted one side of a flow.
type Service struct {
	Name      string
	Namespace string
}

// L7 is the application-layer record of a flow seen by Cilium's proxy.
type L7 struct {
	Type      flowpb.L7FlowType
	LatencyNS uint64
	DNS       *DNS
	HTTP      *HTTP
	Kafka     *Kafka
	// Other names another L7 protocol: "kafka" for Kafka records (which
	// are also decoded into Kafka).
	Other string
}

// Kafka is a Kafka request or response seen by Cilium's Kafka proxy.
type Kafka struct {
	// APIKey names the request ("produce", "fetch", ...).
	APIKey     string
	APIVersion int32
	Topic      string
	ErrorCode  int32
}

// DNS is a DNS request or response.
type DNS struct {
	Query  string
	IPs    []netip.Addr
	TTL    uint32
	CNAMEs []string
	Rcode  uint32
	Qtypes []string
}

// HTTP is an HTTP request or response.
type HTTP struct {
	Code     uint32
	Method   string
	URL      string
	Protocol string
}

// LostEvent is a notice that events were lost before they reached the
// reader: a policy learned across such a gap may miss connections.
type LostEvent struct {
	Source     flowpb.LostEventSource
	NumLost    uint64
	CPU        int32
	HasCPU     bool
	NodeName   string
	Time       time.Time
	FirstEvent time.Time
	LastEvent  time.Time
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
