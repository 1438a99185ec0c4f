package observe

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	relaypb "github.com/cilium/cilium/api/v1/relay"
	"google.golang.org/protobuf/encoding/protowire"
)

// WireDecoder decodes GetFlowsResponse messages from their protobuf wire
// bytes straight into Records, reading only the fields a Flow holds and
// skipping the rest unparsed. It is the live client's fast path: it gives
// the same Flow as FromProto on the generated message. Like Decoder it
// caches repeated strings and endpoints, so reuse one per stream; it is
// not safe for concurrent use.
type WireDecoder struct {
	strings   interner
	endpoints map[string]Endpoint
	// Node is the last node status notice decoded (Kind KindNodeStatus).
	Node NodeStatus
}

// NodeStatus is Hubble Relay's notice that nodes connected, became
// unavailable or left: flows from unavailable nodes are missing until they
// come back.
type NodeStatus struct {
	State     relaypb.NodeState
	NodeNames []string
	Message   string
}

// NewWireDecoder returns a WireDecoder with empty caches.
func NewWireDecoder() *WireDecoder {
	return &WireDecoder{strings: newInterner(cacheLimit), endpoints: make(map[string]Endpoint)}
}

// GetFlowsResponse field numbers (api/v1/observer/observer.proto).
const (
	respFlow       = 1
	respNodeStatus = 2
	respLostEvents = 3
	respNodeName   = 1000
	respTime       = 1001
)

// wireField is one decoded field: v holds the value of a varint or fixed
// field, b the bytes of a length-delimited one.
type wireField struct {
	num protowire.Number
	typ protowire.Type
	v   uint64
	b   []byte
}

// eachField calls fn for every field of a message, in wire order.
func eachField(data []byte, fn func(f *wireField)) error {
	var f wireField
	for len(data) > 0 {
		num, typ, n := protowire.ConsumeTag(data)
		if n < 0 {
			return protowire.ParseError(n)
		}
		data = data[n:]
		f = wireField{num: num, typ: typ}
		switch typ {
		case protowire.VarintType:
			f.v, n = protowire.ConsumeVarint(data)
		case protowire.Fixed32Type:
			var v uint32
			v, n = protowire.ConsumeFixed32(data)
			f.v = uint64(v)
		case protowire.Fixed64Type:
			f.v, n = protowire.ConsumeFixed64(data)
		case protowire.BytesType:
			f.b, n = protowire.ConsumeBytes(data)
		default:
			n = protowire.ConsumeFieldValue(num, typ, data)
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		data = data[n:]
		fn(&f)
	}
	return nil
}

// nestedErr carries the first error met in a nested message out of the
// eachField callbacks.
type nestedErr struct{ err error }

func (e *nestedErr) set(err error) {
	if err != nil && e.err == nil {
		e.err = err
	}
}

// ErrEmptyResponse is returned for a GetFlowsResponse that holds none of a
// flow, a lost-events notice or a node status.
var ErrEmptyResponse = errors.New("GetFlowsResponse holds no flow, lost_events or node_status")

// Decode parses one GetFlowsResponse into rec, overwriting it. The
// record's strings may be shared with earlier records; the caller must not
// modify them.
func (d *WireDecoder) Decode(data []byte, rec *Record) error {
	*rec = Record{}
	var (
		envTime time.Time
		envNode string
		kind    = Kind(255)
		nested  nestedErr
	)
	err := eachField(data, func(f *wireField) {
		if f.typ != protowire.BytesType {
			return
		}
		switch f.num {
		case respFlow:
			if kind != KindFlow {
				rec.Flow = Flow{}
			}
			kind = KindFlow
			nested.set(d.flow(f.b, &rec.Flow))
		case respLostEvents:
			if kind != KindLostEvents {
				rec.Lost = LostEvent{}
			}
			kind = KindLostEvents
			nested.set(d.lostEvent(f.b, &rec.Lost))
		case respNodeStatus:
			if kind != KindNodeStatus {
				d.Node = NodeStatus{}
			}
			kind = KindNodeStatus
			nested.set(d.nodeStatus(f.b))
		case respNodeName:
			envNode = d.strings.get(f.b)
		case respTime:
			ts, err := timestamp(f.b)
			nested.set(err)
			envTime = ts
		}
	})
	if err == nil {
		err = nested.err
	}
	if err != nil {
		return fmt.Errorf("malformed GetFlowsResponse: %w", err)
	}
	switch kind {
	case KindFlow:
		if rec.Flow.NodeName == "" {
			rec.Flow.NodeName = envNode
		}
		if rec.Flow.Time.IsZero() {
			rec.Flow.Time = envTime
		}
	case KindLostEvents:
		rec.Lost.NodeName, rec.Lost.Time = envNode, envTime
	case KindNodeStatus:
	default:
		return ErrEmptyResponse
	}
	rec.Kind = kind
	return nil
}

func (d *WireDecoder) flow(data []byte, fl *Flow) error {
	var nested nestedErr
	err := eachField(data, func(f *wireField) {
		if f.typ == protowire.VarintType {
			switch f.num {
			case 2:
				fl.Verdict = flowpb.Verdict(int32(f.v))
			case 10:
				fl.Type = flowpb.FlowType(int32(f.v))
			case 16:
				fl.LegacyReply = f.v != 0
			case 22:
				fl.TrafficDirection = flowpb.TrafficDirection(int32(f.v))
			case 24:
				fl.ObservationPoint = flowpb.TraceObservationPoint(int32(f.v))
			case 25:
				fl.DropReason = flowpb.DropReason(int32(f.v))
			}
			return
		}
		if f.typ != protowire.BytesType {
			return
		}
		switch f.num {
		case 1:
			t, err := timestamp(f.b)
			nested.set(err)
			fl.Time = t
		case 5:
			nested.set(d.ip(f.b, fl))
		case 6:
			nested.set(d.l4(f.b, &fl.L4))
		case 8:
			ep, err := d.endpoint(f.b)
			nested.set(err)
			fl.Source = ep
		case 9:
			ep, err := d.endpoint(f.b)
			nested.set(err)
			fl.Destination = ep
		case 11:
			fl.NodeName = d.strings.get(f.b)
		case 13:
			fl.SourceNames = append(fl.SourceNames, d.strings.get(f.b))
		case 14:
			fl.DestinationNames = append(fl.DestinationNames, d.strings.get(f.b))
		case 15:
			if fl.L7 == nil {
				fl.L7 = &L7{}
			}
			nested.set(d.l7(f.b, fl.L7))
		case 19:
			nested.set(eachField(f.b, func(g *wireField) {
				if g.typ != protowire.VarintType {
					return
				}
				switch g.num {
				case 1:
					fl.EventType = int32(g.v)
				case 2:
					fl.EventSubType = int32(g.v)
				}
			}))
		case 20:
			nested.set(d.service(f.b, &fl.SourceService))
		case 21:
			nested.set(d.service(f.b, &fl.DestinationService))
		case 26:
			if fl.IsReply == ReplyUnknown {
				fl.IsReply = ReplyFalse
			}
			nested.set(eachField(f.b, func(g *wireField) {
				if g.num == 1 && g.typ == protowire.VarintType {
					fl.IsReply = ReplyFalse
					if g.v != 0 {
						fl.IsReply = ReplyTrue
					}
				}
			}))
		}
	})
	if err != nil {
		return err
	}
	return nested.err
}

func (d *WireDecoder) ip(data []byte, fl *Flow) error {
	return eachField(data, func(f *wireField) {
		switch {
		case f.num == 1 && f.typ == protowire.BytesType:
			fl.SrcIP = d.addr(f.b)
		case f.num == 2 && f.typ == protowire.BytesType:
			fl.DstIP = d.addr(f.b)
		case f.num == 3 && f.typ == protowire.VarintType:
			fl.IPVersion = flowpb.IPVersion(int32(f.v))
		}
	})
}

// l4 decodes the Layer4 oneof: a later member replaces an earlier one, as
// in the generated code.
func (d *WireDecoder) l4(data []byte, l *L4) error {
	var nested nestedErr
	err := eachField(data, func(f *wireField) {
		if f.typ != protowire.BytesType || f.num < 1 || f.num > 7 {
			return
		}
		proto := [...]Protocol{1: ProtoTCP, 2: ProtoUDP, 3: ProtoICMPv4, 4: ProtoICMPv6, 5: ProtoSCTP, 6: ProtoVRRP, 7: ProtoIGMP}[f.num]
		if l.Protocol != proto {
			*l = L4{Protocol: proto}
		}
		nested.set(eachField(f.b, func(g *wireField) {
			if g.typ == protowire.BytesType && g.num == 3 && proto == ProtoTCP {
				nested.set(tcpFlags(g.b, &l.Flags))
				return
			}
			if g.typ != protowire.VarintType {
				return
			}
			switch proto {
			case ProtoTCP, ProtoUDP, ProtoSCTP:
				switch g.num {
				case 1:
					l.SrcPort = uint16(uint32(g.v))
				case 2:
					l.DstPort = uint16(uint32(g.v))
				}
			case ProtoICMPv4, ProtoICMPv6:
				switch g.num {
				case 1:
					l.ICMPType = uint8(uint32(g.v))
				case 2:
					l.ICMPCode = uint8(uint32(g.v))
				}
			case ProtoVRRP, ProtoIGMP:
				if g.num == 1 {
					l.ICMPType = uint8(uint32(g.v))
				}
			}
		}))
	})
	if err != nil {
		return err
	}
	return nested.err
}

func tcpFlags(data []byte, flags *TCPFlags) error {
	// TCPFlags fields 1..9 are FIN, SYN, RST, PSH, ACK, URG, ECE, CWR, NS:
	// the same order as the TCPFlags bits.
	return eachField(data, func(f *wireField) {
		if f.typ != protowire.VarintType || f.num < 1 || f.num > 9 {
			return
		}
		bit := TCPFlags(1) << (f.num - 1)
		if f.v != 0 {
			*flags |= bit
		} else {
			*flags &^= bit
		}
	})
}

// endpoint decodes an Endpoint, caching it by its bytes: the same pods
// appear in most flows of a stream and their labels dominate decoding.
func (d *WireDecoder) endpoint(data []byte) (Endpoint, error) {
	if ep, ok := d.endpoints[string(data)]; ok {
		return ep, nil
	}
	var (
		ep     Endpoint
		nested nestedErr
	)
	err := eachField(data, func(f *wireField) {
		if f.typ == protowire.VarintType {
			switch f.num {
			case 1:
				ep.ID = uint32(f.v)
			case 2:
				ep.Identity = uint32(f.v)
			}
			return
		}
		if f.typ != protowire.BytesType {
			return
		}
		switch f.num {
		case 3:
			ep.Namespace = d.strings.get(f.b)
		case 4:
			ep.Labels = append(ep.Labels, d.strings.get(f.b))
		case 5:
			ep.PodName = d.strings.get(f.b)
		case 6:
			var w Workload
			nested.set(eachField(f.b, func(g *wireField) {
				if g.typ != protowire.BytesType {
					return
				}
				switch g.num {
				case 1:
					w.Name = d.strings.get(g.b)
				case 2:
					w.Kind = d.strings.get(g.b)
				}
			}))
			ep.Workloads = append(ep.Workloads, w)
		case 7:
			ep.ClusterName = d.strings.get(f.b)
		}
	})
	if err == nil {
		err = nested.err
	}
	if err != nil {
		return Endpoint{}, err
	}
	if len(d.endpoints) < cacheLimit {
		d.endpoints[string(data)] = ep
	}
	return ep, nil
}

func (d *WireDecoder) service(data []byte, svc *Service) error {
	return eachField(data, func(f *wireField) {
		if f.typ != protowire.BytesType {
			return
		}
		switch f.num {
		case 1:
			svc.Name = d.strings.get(f.b)
		case 2:
			svc.Namespace = d.strings.get(f.b)
		}
	})
}

// l7 decodes a Layer7 record; dns, http and kafka are a oneof, so a later
// one replaces an earlier one.
func (d *WireDecoder) l7(data []byte, l7 *L7) error {
	var nested nestedErr
	err := eachField(data, func(f *wireField) {
		switch {
		case f.num == 1 && f.typ == protowire.VarintType:
			l7.Type = flowpb.L7FlowType(int32(f.v))
		case f.num == 2 && f.typ == protowire.VarintType:
			l7.LatencyNS = f.v
		case f.num == 100 && f.typ == protowire.BytesType:
			if l7.DNS == nil {
				l7.DNS, l7.HTTP, l7.Other = &DNS{}, nil, ""
			}
			nested.set(d.dns(f.b, l7.DNS))
		case f.num == 101 && f.typ == protowire.BytesType:
			if l7.HTTP == nil {
				l7.DNS, l7.HTTP, l7.Other = nil, &HTTP{}, ""
			}
			nested.set(d.http(f.b, l7.HTTP))
		case f.num == 102 && f.typ == protowire.BytesType:
			l7.DNS, l7.HTTP, l7.Other = nil, nil, "kafka"
		}
	})
	if err != nil {
		return err
	}
	return nested.err
}

func (d *WireDecoder) dns(data []byte, dns *DNS) error {
	return eachField(data, func(f *wireField) {
		if f.typ == protowire.VarintType {
			switch f.num {
			case 3:
				dns.TTL = uint32(f.v)
			case 6:
				dns.Rcode = uint32(f.v)
			}
			return
		}
		if f.typ != protowire.BytesType {
			return
		}
		switch f.num {
		case 1:
			dns.Query = d.strings.get(f.b)
		case 2:
			if a := d.addr(f.b); a.IsValid() {
				dns.IPs = append(dns.IPs, a)
			}
		case 4:
			dns.CNAMEs = append(dns.CNAMEs, d.strings.get(f.b))
		case 7:
			dns.Qtypes = append(dns.Qtypes, d.strings.get(f.b))
		}
	})
}

func (d *WireDecoder) http(data []byte, h *HTTP) error {
	return eachField(data, func(f *wireField) {
		if f.num == 1 && f.typ == protowire.VarintType {
			h.Code = uint32(f.v)
			return
		}
		if f.typ != protowire.BytesType {
			return
		}
		switch f.num {
		case 2:
			h.Method = d.strings.get(f.b)
		case 3:
			// URLs are too varied to be worth interning.
			h.URL = string(f.b)
		case 4:
			h.Protocol = d.strings.get(f.b)
		}
	})
}

func (d *WireDecoder) lostEvent(data []byte, l *LostEvent) error {
	var nested nestedErr
	err := eachField(data, func(f *wireField) {
		switch {
		case f.num == 1 && f.typ == protowire.VarintType:
			l.Source = flowpb.LostEventSource(int32(f.v))
		case f.num == 2 && f.typ == protowire.VarintType:
			l.NumLost = f.v
		case f.num == 3 && f.typ == protowire.BytesType:
			l.HasCPU = true
			nested.set(eachField(f.b, func(g *wireField) {
				if g.num == 1 && g.typ == protowire.VarintType {
					l.CPU = int32(g.v)
				}
			}))
		case f.num == 4 && f.typ == protowire.BytesType:
			t, err := timestamp(f.b)
			nested.set(err)
			l.FirstEvent = t
		case f.num == 5 && f.typ == protowire.BytesType:
			t, err := timestamp(f.b)
			nested.set(err)
			l.LastEvent = t
		}
	})
	if err != nil {
		return err
	}
	return nested.err
}

func (d *WireDecoder) nodeStatus(data []byte) error {
	n := &d.Node
	return eachField(data, func(f *wireField) {
		switch {
		case f.num == 1 && f.typ == protowire.VarintType:
			n.State = relaypb.NodeState(int32(f.v))
		case f.num == 2 && f.typ == protowire.BytesType:
			n.NodeNames = append(n.NodeNames, d.strings.get(f.b))
		case f.num == 3 && f.typ == protowire.BytesType:
			n.Message = string(f.b)
		}
	})
}

// timestamp decodes a google.protobuf.Timestamp as AsTime does.
func timestamp(data []byte) (time.Time, error) {
	var sec, nsec int64
	err := eachField(data, func(f *wireField) {
		if f.typ != protowire.VarintType {
			return
		}
		switch f.num {
		case 1:
			sec = int64(f.v)
		case 2:
			nsec = int64(int32(f.v))
		}
	})
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(sec, nsec).UTC(), nil
}

// addr parses an IP address through the interner, which turns the bytes
// into a string without allocating for addresses seen before.
func (d *WireDecoder) addr(b []byte) netip.Addr {
	a, _ := netip.ParseAddr(d.strings.get(b))
	return a
}
