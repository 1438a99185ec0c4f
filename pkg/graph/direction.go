package graph

import (
	flowpb "github.com/cilium/cilium/api/v1/flow"

	"github.com/netpolgen/netpolgen/pkg/observe"
)

// flowDirection is what a single flow says about who opened its
// connection.
type flowDirection uint8

const (
	// undirected: the flow does not say.
	undirected flowDirection = iota
	// opening: the flow's source opened the connection.
	opening
	// answering: the flow is a reply; its destination opened it.
	answering
)

// ICMP message types that open and answer an exchange.
const (
	icmpv4EchoReply   = 0
	icmpv4EchoRequest = 8
	icmpv6EchoRequest = 128
	icmpv6EchoReply   = 129
)

// directionOf applies the direction rules in order; the first that
// speaks decides.
func directionOf(f *observe.Flow) flowDirection {
	if f.L7 != nil {
		switch f.L7.Type {
		case flowpb.L7FlowType_REQUEST:
			return opening
		case flowpb.L7FlowType_RESPONSE:
			return answering
		}
	}
	switch f.IsReply {
	case observe.ReplyTrue:
		return answering
	case observe.ReplyFalse:
		return opening
	}
	if f.LegacyReply {
		return answering
	}
	switch f.L4.Protocol {
	case observe.ProtoTCP:
		syn := f.L4.Flags&observe.FlagSYN != 0
		ack := f.L4.Flags&observe.FlagACK != 0
		switch {
		case syn && !ack:
			return opening
		case syn && ack:
			return answering
		}
	case observe.ProtoICMPv4:
		switch f.L4.ICMPType {
		case icmpv4EchoRequest:
			return opening
		case icmpv4EchoReply:
			return answering
		}
	case observe.ProtoICMPv6:
		switch f.L4.ICMPType {
		case icmpv6EchoRequest:
			return opening
		case icmpv6EchoReply:
			return answering
		}
	}
	return undirected
}

// openingICMPType maps an ICMP message to the type of the message that
// opened its exchange (an echo reply belongs to the echo request's edge).
func openingICMPType(p observe.Protocol, t uint8) uint8 {
	switch {
	case p == observe.ProtoICMPv4 && t == icmpv4EchoReply:
		return icmpv4EchoRequest
	case p == observe.ProtoICMPv6 && t == icmpv6EchoReply:
		return icmpv6EchoRequest
	}
	return t
}

// isICMP reports whether the protocol carries ICMP-like types.
func isICMP(p observe.Protocol) bool {
	return p == observe.ProtoICMPv4 || p == observe.ProtoICMPv6 || p == observe.ProtoIGMP || p == observe.ProtoVRRP
}

// guessListener is the last resort for a flow no evidence directs: it
// picks the port that looks like a service port, reporting true when the
// destination port is the one.
func guessListener(srcPort, dstPort uint16) bool {
	const wellKnown, ephemeral = 1024, 32768
	switch {
	case dstPort < wellKnown && srcPort >= wellKnown:
		return true
	case srcPort < wellKnown && dstPort >= wellKnown:
		return false
	case dstPort < ephemeral && srcPort >= ephemeral:
		return true
	case srcPort < ephemeral && dstPort >= ephemeral:
		return false
	}
	return dstPort <= srcPort
}
