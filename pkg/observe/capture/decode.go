package capture

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"time"
	"unicode/utf8"

	flowpb "github.com/cilium/cilium/api/v1/flow"

	"github.com/netpolgen/netpolgen/internal/flowdecode"
	"github.com/netpolgen/netpolgen/pkg/observe"
)

// Decoder turns one JSON record (a GetFlowsResponse or ExportEvent with
// snake_case or lowerCamel keys, or a bare Flow) into a Record. It keeps
// caches of repeated strings and endpoints, so reuse one Decoder per
// stream; it is not safe for concurrent use.
type Decoder struct {
	s       scanner
	strings flowdecode.Strings
	// endpoints caches decoded endpoints by their raw JSON: the same pod
	// appears in most flows of a capture, and its labels dominate decoding.
	endpoints flowdecode.Cache[observe.Endpoint]
	// labelSets and workloadSets share one slice among the pods of a
	// workload, keyed by their raw JSON.
	labelSets    flowdecode.Cache[[]string]
	workloadSets flowdecode.Cache[[]observe.Workload]
}

// NewDecoder returns a Decoder with empty caches.
func NewDecoder() *Decoder {
	return &Decoder{
		strings:      flowdecode.NewStrings(flowdecode.Limit),
		endpoints:    flowdecode.NewCache[observe.Endpoint](flowdecode.Limit),
		labelSets:    flowdecode.NewCache[[]string](flowdecode.SetLimit),
		workloadSets: flowdecode.NewCache[[]observe.Workload](flowdecode.SetLimit),
	}
}

// ErrNotARecord is returned for a JSON object that holds neither a flow nor
// a known Hubble event.
var ErrNotARecord = errors.New("no flow, lost_events or known Hubble event in record")

// Decode parses one record into rec, overwriting it. The record's strings
// may be shared with earlier records; the caller must not modify them.
func (d *Decoder) Decode(data []byte, rec *observe.Record) error {
	if !utf8.Valid(data) {
		return errors.New("invalid UTF-8")
	}
	*rec = observe.Record{}
	s := &d.s
	s.reset(data)
	var (
		env envelope
		// top holds flow fields at the top level: the record is a bare
		// Flow, unless it also has a "flow" key, in which case they are
		// keys the envelope does not have, ignored as protojson does.
		top     observe.Flow
		bare    bool
		hasFlow bool
		unknown bool // a key no version of the API this decoder knows has
		kind    = observe.Kind(255)
	)
	s.object(func(key []byte) {
		switch string(s.fold(key)) {
		case "flow":
			hasFlow = true
			d.flow(&rec.Flow)
		case "lostEvents":
			kind = observe.KindLostEvents
			d.lostEvent(&rec.Lost)
		case "nodeStatus":
			kind = observe.KindNodeStatus
			s.skip()
		case "agentEvent":
			kind = observe.KindAgentEvent
			s.skip()
		case "debugEvent":
			kind = observe.KindDebugEvent
			s.skip()
		case "rateLimitInfo":
			kind = observe.KindRateLimitInfo
			s.skip()
		case "time":
			env.time, env.seen = d.timestamp(), true
		case "nodeName":
			env.node, env.seen = d.str(), true
		default:
			// Not an envelope key: this line may be a bare Flow, or
			// carry a key a newer Hubble added, which is skipped.
			if d.flowField(&top, key) {
				bare = true
			} else {
				unknown = true
				s.skip()
			}
		}
	})
	if s.err != nil {
		return s.err
	}
	if s.peek() != 0 {
		return fmt.Errorf("offset %d: unexpected data after the record", s.i)
	}
	switch {
	case hasFlow:
		rec.Kind = observe.KindFlow
		if rec.Flow.NodeName == "" {
			rec.Flow.NodeName = env.node
		}
		if rec.Flow.Time.IsZero() {
			rec.Flow.Time = env.time
		}
	case bare:
		rec.Kind = observe.KindFlow
		rec.Flow = top
		rec.Flow.Time, rec.Flow.NodeName = env.time, env.node
	case kind == observe.KindLostEvents:
		rec.Kind = kind
		rec.Lost.NodeName, rec.Lost.Time = env.node, env.time
	case kind != observe.Kind(255):
		rec.Kind = kind
	case unknown && env.seen:
		rec.Kind = observe.KindUnknownEvent
	default:
		return ErrNotARecord
	}
	return nil
}

type envelope struct {
	time time.Time
	node string
	seen bool // the record has a node or time key: it is a Hubble event
}

func (d *Decoder) flow(f *observe.Flow) {
	d.s.object(func(key []byte) {
		if !d.flowField(f, key) {
			d.s.skip()
		}
	})
}

// flowField decodes the member key of a Flow into f and reports whether
// key is a Flow field; it consumes the value only when it is.
func (d *Decoder) flowField(f *observe.Flow, key []byte) bool {
	s := &d.s
	switch string(s.fold(key)) {
	case "time":
		f.Time = d.timestamp()
	case "nodeName":
		f.NodeName = d.str()
	case "verdict":
		f.Verdict = flowpb.Verdict(s.readEnum(flowpb.Verdict_value))
	case "dropReasonDesc":
		f.DropReason = flowpb.DropReason(s.readEnum(flowpb.DropReason_value))
	case "Type":
		f.Type = flowpb.FlowType(s.readEnum(flowpb.FlowType_value))
	case "eventType":
		s.object(func(k []byte) {
			switch string(s.fold(k)) {
			case "type":
				f.EventType = s.readInt32()
			case "subType":
				f.EventSubType = s.readInt32()
			default:
				s.skip()
			}
		})
	case "IP":
		s.object(func(k []byte) {
			switch string(s.fold(k)) {
			case "source":
				f.SrcIP = d.addr()
			case "sourceXlated":
				f.SrcXlated = d.addr()
			case "destination":
				f.DstIP = d.addr()
			case "ipVersion":
				f.IPVersion = flowpb.IPVersion(s.readEnum(flowpb.IPVersion_value))
			default:
				s.skip()
			}
		})
	case "l4":
		d.l4(&f.L4)
	case "source":
		f.Source = d.endpoint()
	case "destination":
		f.Destination = d.endpoint()
	case "sourceNames":
		f.SourceNames = d.strs()
	case "destinationNames":
		f.DestinationNames = d.strs()
	case "sourceService":
		f.SourceService = d.service()
	case "destinationService":
		f.DestinationService = d.service()
	case "trafficDirection":
		f.TrafficDirection = flowpb.TrafficDirection(s.readEnum(flowpb.TrafficDirection_value))
	case "traceObservationPoint":
		f.ObservationPoint = flowpb.TraceObservationPoint(s.readEnum(flowpb.TraceObservationPoint_value))
	case "isReply":
		if s.null() {
			f.IsReply = observe.ReplyUnknown
		} else if s.readBool() {
			f.IsReply = observe.ReplyTrue
		} else {
			f.IsReply = observe.ReplyFalse
		}
	case "reply":
		f.LegacyReply = s.readBool()
	case "l7":
		f.L7 = d.l7()
	case "uuid", "emitter", "dropReason", "authType", "ethernet", "tunnel", "nodeLabels",
		"policyMatchType", "traceReason", "file", "ipTraceId", "debugCapturePoint",
		"interface", "proxyPort", "traceContext", "sockXlatePoint", "socketCookie",
		"cgroupId", "Summary", "extensions", "egressAllowedBy", "ingressAllowedBy",
		"egressDeniedBy", "ingressDeniedBy", "policyLog", "aggregate":
		s.skip()
	default:
		return false
	}
	return true
}

func (d *Decoder) l4(l *observe.L4) {
	s := &d.s
	s.object(func(key []byte) {
		proto := protocolKey(key)
		if proto == observe.ProtoUnknown {
			s.skip()
			return
		}
		l.Protocol = proto
		s.object(func(k []byte) {
			switch string(s.fold(k)) {
			case "sourcePort":
				l.SrcPort = uint16(s.readUint(16))
			case "destinationPort":
				l.DstPort = uint16(s.readUint(16))
			case "flags":
				l.Flags = d.tcpFlags()
			case "type":
				l.ICMPType = uint8(s.readUint(8))
			case "code":
				l.ICMPCode = uint8(s.readUint(8))
			default:
				s.skip()
			}
		})
	})
}

func (d *Decoder) tcpFlags() observe.TCPFlags {
	s := &d.s
	var flags observe.TCPFlags
	s.object(func(k []byte) {
		var bit observe.TCPFlags
		switch string(k) {
		case "FIN":
			bit = observe.FlagFIN
		case "SYN":
			bit = observe.FlagSYN
		case "RST":
			bit = observe.FlagRST
		case "PSH":
			bit = observe.FlagPSH
		case "ACK":
			bit = observe.FlagACK
		case "URG":
			bit = observe.FlagURG
		case "ECE":
			bit = observe.FlagECE
		case "CWR":
			bit = observe.FlagCWR
		case "NS":
			bit = observe.FlagNS
		default:
			// A flag a newer Hubble added, whatever its value's shape.
			s.skip()
			return
		}
		if s.readBool() {
			flags |= bit
		}
	})
	return flags
}

func (d *Decoder) endpoint() observe.Endpoint { return cached(d, &d.endpoints, d.endpointFields) }

func (d *Decoder) endpointFields() observe.Endpoint {
	s := &d.s
	var ep observe.Endpoint
	s.object(func(k []byte) {
		switch string(s.fold(k)) {
		case "ID":
			ep.ID = uint32(s.readUint(32))
		case "identity":
			ep.Identity = uint32(s.readUint(32))
		case "clusterName":
			ep.ClusterName = d.str()
		case "namespace":
			ep.Namespace = d.str()
		case "podName":
			// A pod name is the pod's own: interning it would only push
			// shared strings out of the flowdecode.Strings.
			if !s.null() {
				ep.PodName = string(s.readString())
			}
		case "labels":
			// Labels and workloads are shared with the other pods of the
			// workload.
			ep.Labels = cached(d, &d.labelSets, d.labelList)
		case "workloads":
			ep.Workloads = cached(d, &d.workloadSets, d.workloadList)
		default:
			s.skip()
		}
	})
	return ep
}

// cached reads the next value through a cache keyed by its raw JSON;
// decode runs only on a miss, from the start of the value.
func cached[V any](d *Decoder, c *flowdecode.Cache[V], decode func() V) V {
	s := &d.s
	var zero V
	if s.peek() == 'n' {
		s.null()
		return zero
	}
	start := s.i
	s.skip()
	if s.err != nil {
		return zero
	}
	raw := s.b[start:s.i]
	slot, hit := c.Lookup(raw)
	if hit {
		return slot.Val
	}
	s.i = start
	v := decode()
	if s.err == nil {
		flowdecode.Fill(slot, string(raw), v)
	}
	return v
}

// labelList reads an array of interned labels, clipped so that no one
// appends into a slice that others share.
func (d *Decoder) labelList() []string {
	labels := d.strs()
	return labels[:len(labels):len(labels)]
}

func (d *Decoder) workloadList() []observe.Workload {
	s := &d.s
	var ws []observe.Workload
	s.array(func() {
		var w observe.Workload
		s.object(func(k []byte) {
			switch string(s.fold(k)) {
			case "name":
				w.Name = d.str()
			case "kind":
				w.Kind = d.str()
			default:
				s.skip()
			}
		})
		ws = append(ws, w)
	})
	return ws[:len(ws):len(ws)]
}

func (d *Decoder) service() observe.Service {
	s := &d.s
	var svc observe.Service
	s.object(func(k []byte) {
		switch string(s.fold(k)) {
		case "name":
			svc.Name = d.str()
		case "namespace":
			svc.Namespace = d.str()
		default:
			s.skip()
		}
	})
	return svc
}

func (d *Decoder) l7() *observe.L7 {
	s := &d.s
	if s.null() {
		return nil
	}
	l7 := &observe.L7{}
	s.object(func(k []byte) {
		switch string(s.fold(k)) {
		case "type":
			l7.Type = flowpb.L7FlowType(s.readEnum(flowpb.L7FlowType_value))
		case "latencyNs":
			l7.LatencyNS = s.readUint(64)
		case "dns":
			l7.DNS = d.dns()
		case "http":
			l7.HTTP = d.http()
		case "kafka":
			if !s.null() {
				l7.Other = "kafka"
				l7.Kafka = d.kafka()
			}
		default:
			s.skip()
		}
	})
	return l7
}

func (d *Decoder) kafka() *observe.Kafka {
	s := &d.s
	k := &observe.Kafka{}
	s.object(func(key []byte) {
		switch string(s.fold(key)) {
		case "apiKey":
			k.APIKey = d.str()
		case "apiVersion":
			k.APIVersion = s.readInt32()
		case "topic":
			k.Topic = d.str()
		case "errorCode":
			k.ErrorCode = s.readInt32()
		default:
			s.skip()
		}
	})
	return k
}

func (d *Decoder) dns() *observe.DNS {
	s := &d.s
	if s.null() {
		return nil
	}
	dns := &observe.DNS{}
	s.object(func(k []byte) {
		switch string(s.fold(k)) {
		case "query":
			dns.Query = d.str()
		case "ips":
			s.array(func() {
				if a := d.addr(); a.IsValid() {
					dns.IPs = append(dns.IPs, a)
				}
			})
		case "ttl":
			dns.TTL = uint32(s.readUint(32))
		case "cnames":
			dns.CNAMEs = d.strs()
		case "rcode":
			dns.Rcode = uint32(s.readUint(32))
		case "qtypes":
			dns.Qtypes = d.strs()
		default:
			s.skip()
		}
	})
	return dns
}

func (d *Decoder) http() *observe.HTTP {
	s := &d.s
	if s.null() {
		return nil
	}
	h := &observe.HTTP{}
	s.object(func(k []byte) {
		switch string(s.fold(k)) {
		case "code":
			h.Code = uint32(s.readUint(32))
		case "method":
			h.Method = d.str()
		case "url":
			h.URL = string(s.readString())
		case "protocol":
			h.Protocol = d.str()
		default:
			s.skip()
		}
	})
	return h
}

func (d *Decoder) lostEvent(l *observe.LostEvent) {
	s := &d.s
	s.object(func(k []byte) {
		switch string(s.fold(k)) {
		case "source":
			l.Source = flowpb.LostEventSource(s.readEnum(flowpb.LostEventSource_value))
		case "numEventsLost":
			l.NumLost = s.readUint(64)
		case "cpu":
			// A google.protobuf.Int32Value: a bare number in JSON.
			if !s.null() {
				l.CPU, l.HasCPU = s.readInt32(), true
			}
		case "first":
			l.FirstEvent = d.timestamp()
		case "last":
			l.LastEvent = d.timestamp()
		default:
			s.skip()
		}
	})
}

// str reads a string and interns it.
func (d *Decoder) str() string {
	if d.s.null() {
		return ""
	}
	return d.strings.Get(d.s.readString())
}

// strs reads an array of interned strings.
func (d *Decoder) strs() []string {
	s := &d.s
	if s.null() {
		return nil
	}
	var out []string
	s.array(func() {
		out = append(out, d.str())
	})
	return out
}

func (d *Decoder) addr() netip.Addr {
	s := &d.s
	if s.null() {
		return netip.Addr{}
	}
	raw := s.readString()
	if s.err != nil || len(raw) == 0 {
		return netip.Addr{}
	}
	if a, ok := flowdecode.ParseIPv4(raw); ok {
		return a
	}
	a, err := netip.ParseAddr(string(raw))
	if err != nil {
		s.fail("invalid IP address %q", raw)
	}
	return a
}

func (d *Decoder) timestamp() time.Time {
	s := &d.s
	if s.null() {
		return time.Time{}
	}
	raw := s.readString()
	if s.err != nil {
		return time.Time{}
	}
	t, ok := parseRFC3339UTC(raw)
	if ok {
		return t
	}
	t, err := time.Parse(time.RFC3339Nano, string(raw))
	if err != nil {
		s.fail("invalid timestamp %q", raw)
	}
	return t
}

// parseRFC3339UTC parses the form protojson writes,
// "2006-01-02T15:04:05[.fraction]Z", without allocating.
func parseRFC3339UTC(b []byte) (time.Time, bool) {
	if len(b) < 20 || b[len(b)-1] != 'Z' || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	num := func(i, n int) (int, bool) {
		v := 0
		for _, c := range b[i : i+n] {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	year, ok1 := num(0, 4)
	month, ok2 := num(5, 2)
	day, ok3 := num(8, 2)
	hour, ok4 := num(11, 2)
	minute, ok5 := num(14, 2)
	sec, ok6 := num(17, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	nsec := 0
	frac := b[19 : len(b)-1]
	if len(frac) > 0 {
		if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 {
			return time.Time{}, false
		}
		for i := 1; i < 10; i++ {
			nsec *= 10
			if i < len(frac) {
				c := frac[i]
				if c < '0' || c > '9' {
					return time.Time{}, false
				}
				nsec += int(c - '0')
			}
		}
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if t.Day() != day {
		return time.Time{}, false // such as February 30
	}
	return t, true
}

// fold maps a protojson member name to its lowerCamel JSON name, the
// spelling the decoder's cases use: protojson accepts both the proto name
// ("destination_port") and the JSON name ("destinationPort"), and nothing
// else, so a name that is not proper snake_case is left to match nothing.
// The result is valid until the next fold; callers compare it in place
// (switch string(s.fold(k))), which does not allocate.
func (s *scanner) fold(k []byte) []byte {
	if bytes.IndexByte(k, '_') < 0 {
		return k
	}
	buf := s.keybuf[:0]
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c == '_' && i > 0 && i+1 < len(k) && 'a' <= k[i+1] && k[i+1] <= 'z' {
			i++
			c = k[i] - 'a' + 'A'
		}
		buf = append(buf, c)
	}
	s.keybuf = buf
	return buf
}

// protocolKey maps a Layer4 oneof member name to its protocol.
func protocolKey(k []byte) observe.Protocol {
	switch string(k) {
	case "TCP":
		return observe.ProtoTCP
	case "UDP":
		return observe.ProtoUDP
	case "SCTP":
		return observe.ProtoSCTP
	case "ICMPv4":
		return observe.ProtoICMPv4
	case "ICMPv6":
		return observe.ProtoICMPv6
	case "VRRP":
		return observe.ProtoVRRP
	case "IGMP":
		return observe.ProtoIGMP
	}
	return observe.ProtoUnknown
}
