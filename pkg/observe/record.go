package observe

import relaypb "github.com/cilium/cilium/api/v1/relay"

// Kind says what one record of a capture holds.
type Kind uint8

const (
	KindFlow Kind = iota
	KindLostEvents
	KindNodeStatus
	KindAgentEvent
	KindDebugEvent
	KindRateLimitInfo
	// KindUnknownEvent is a record whose only content is keys this
	// netpolgen does not know beside the envelope's node and time: an
	// event kind a newer Hubble added. It is skipped and counted, not
	// malformed.
	KindUnknownEvent
)

func (k Kind) String() string {
	switch k {
	case KindFlow:
		return "flow"
	case KindLostEvents:
		return "lost_events"
	case KindNodeStatus:
		return "node_status"
	case KindAgentEvent:
		return "agent_event"
	case KindDebugEvent:
		return "debug_event"
	case KindRateLimitInfo:
		return "rate_limit_info"
	case KindUnknownEvent:
		return "unknown_event"
	}
	return "unknown"
}

// Record is one decoded record: a flow, a lost-events notice, or another
// Hubble event that policy learning skips.
type Record struct {
	Kind Kind
	Flow Flow
	Lost LostEvent
}

// NodeStatus is Hubble Relay's notice that nodes connected, became
// unavailable or left: flows from unavailable nodes are missing until they
// come back.
type NodeStatus struct {
	State     relaypb.NodeState
	NodeNames []string
	Message   string
}
