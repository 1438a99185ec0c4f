package observe

import (
	"net/netip"

	flowpb "github.com/cilium/cilium/api/v1/flow"
)

// FromProto converts a generated flow message into a Flow. It is the
// reference the fast decoders are tested against, and the path for
// clients that already hold decoded messages.
func FromProto(p *flowpb.Flow) Flow {
	f := Flow{
		NodeName:         p.GetNodeName(),
		Verdict:          p.GetVerdict(),
		DropReason:       p.GetDropReasonDesc(),
		Type:             p.GetType(),
		EventType:        p.GetEventType().GetType(),
		EventSubType:     p.GetEventType().GetSubType(),
		IPVersion:        p.GetIP().GetIpVersion(),
		SrcIP:            parseAddr(p.GetIP().GetSource()),
		DstIP:            parseAddr(p.GetIP().GetDestination()),
		SrcXlated:        parseAddr(p.GetIP().GetSourceXlated()),
		Source:           endpointFromProto(p.GetSource()),
		Destination:      endpointFromProto(p.GetDestination()),
		SourceNames:      p.GetSourceNames(),
		DestinationNames: p.GetDestinationNames(),
		SourceService:    Service{Name: p.GetSourceService().GetName(), Namespace: p.GetSourceService().GetNamespace()},
		DestinationService: Service{
			Name: p.GetDestinationService().GetName(), Namespace: p.GetDestinationService().GetNamespace(),
		},
		TrafficDirection: p.GetTrafficDirection(),
		ObservationPoint: p.GetTraceObservationPoint(),
		LegacyReply:      p.GetReply(), //nolint:staticcheck // the deprecated field is what old captures carry
	}
	if p.GetTime() != nil {
		f.Time = p.GetTime().AsTime()
	}
	if p.GetIsReply() != nil {
		f.IsReply = ReplyFalse
		if p.GetIsReply().GetValue() {
			f.IsReply = ReplyTrue
		}
	}
	l4 := p.GetL4()
	switch {
	case l4.GetTCP() != nil:
		t := l4.GetTCP()
		f.L4 = L4{Protocol: ProtoTCP, SrcPort: uint16(t.GetSourcePort()), DstPort: uint16(t.GetDestinationPort()), Flags: flagsFromProto(t.GetFlags())}
	case l4.GetUDP() != nil:
		f.L4 = L4{Protocol: ProtoUDP, SrcPort: uint16(l4.GetUDP().GetSourcePort()), DstPort: uint16(l4.GetUDP().GetDestinationPort())}
	case l4.GetSCTP() != nil:
		f.L4 = L4{Protocol: ProtoSCTP, SrcPort: uint16(l4.GetSCTP().GetSourcePort()), DstPort: uint16(l4.GetSCTP().GetDestinationPort())}
	case l4.GetICMPv4() != nil:
		f.L4 = L4{Protocol: ProtoICMPv4, ICMPType: uint8(l4.GetICMPv4().GetType()), ICMPCode: uint8(l4.GetICMPv4().GetCode())}
	case l4.GetICMPv6() != nil:
		f.L4 = L4{Protocol: ProtoICMPv6, ICMPType: uint8(l4.GetICMPv6().GetType()), ICMPCode: uint8(l4.GetICMPv6().GetCode())}
	case l4.GetVRRP() != nil:
		f.L4 = L4{Protocol: ProtoVRRP, ICMPType: uint8(l4.GetVRRP().GetType())}
	case l4.GetIGMP() != nil:
		f.L4 = L4{Protocol: ProtoIGMP, ICMPType: uint8(l4.GetIGMP().GetType())}
	}
	if l7 := p.GetL7(); l7 != nil {
		f.L7 = &L7{Type: l7.GetType(), LatencyNS: l7.GetLatencyNs()}
		if d := l7.GetDns(); d != nil {
			dns := &DNS{Query: d.GetQuery(), TTL: d.GetTtl(), CNAMEs: d.GetCnames(), Rcode: d.GetRcode(), Qtypes: d.GetQtypes()}
			for _, ip := range d.GetIps() {
				if a := parseAddr(ip); a.IsValid() {
					dns.IPs = append(dns.IPs, a)
				}
			}
			f.L7.DNS = dns
		}
		if h := l7.GetHttp(); h != nil {
			f.L7.HTTP = &HTTP{Code: h.GetCode(), Method: h.GetMethod(), URL: h.GetUrl(), Protocol: h.GetProtocol()}
		}
		if k := l7.GetKafka(); k != nil { //nolint:staticcheck // still emitted by older agents
			f.L7.Other = "kafka"
			f.L7.Kafka = &Kafka{APIKey: k.GetApiKey(), APIVersion: k.GetApiVersion(), Topic: k.GetTopic(), ErrorCode: k.GetErrorCode()} //nolint:staticcheck // as above
		}
	}
	return f
}

// LostFromProto converts a generated lost-event message.
func LostFromProto(p *flowpb.LostEvent) LostEvent {
	l := LostEvent{Source: p.GetSource(), NumLost: p.GetNumEventsLost()}
	if p.GetCpu() != nil {
		l.CPU, l.HasCPU = p.GetCpu().GetValue(), true
	}
	if p.GetFirst() != nil {
		l.FirstEvent = p.GetFirst().AsTime()
	}
	if p.GetLast() != nil {
		l.LastEvent = p.GetLast().AsTime()
	}
	return l
}

func endpointFromProto(p *flowpb.Endpoint) Endpoint {
	if p == nil {
		return Endpoint{}
	}
	ep := Endpoint{
		ID: p.GetID(), Identity: p.GetIdentity(), ClusterName: p.GetClusterName(),
		Namespace: p.GetNamespace(), PodName: p.GetPodName(), Labels: p.GetLabels(),
	}
	for _, w := range p.GetWorkloads() {
		ep.Workloads = append(ep.Workloads, Workload{Name: w.GetName(), Kind: w.GetKind()})
	}
	return ep
}

func flagsFromProto(p *flowpb.TCPFlags) TCPFlags {
	var f TCPFlags
	set := func(on bool, bit TCPFlags) {
		if on {
			f |= bit
		}
	}
	set(p.GetFIN(), FlagFIN)
	set(p.GetSYN(), FlagSYN)
	set(p.GetRST(), FlagRST)
	set(p.GetPSH(), FlagPSH)
	set(p.GetACK(), FlagACK)
	set(p.GetURG(), FlagURG)
	set(p.GetECE(), FlagECE)
	set(p.GetCWR(), FlagCWR)
	set(p.GetNS(), FlagNS)
	return f
}

func parseAddr(s string) netip.Addr {
	a, _ := netip.ParseAddr(s)
	return a
}
