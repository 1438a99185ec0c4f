package flowgen

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/netpolgen/netpolgen/pkg/observe"
)

// encoder writes flows as Hubble's jsonpb does (one GetFlowsResponse per
// line), byte-for-byte stable across builds: protojson deliberately varies
// its whitespace, which would make regenerated examples differ.
type encoder struct {
	camel bool
	buf   []byte
}

// key writes a member name in the chosen spelling (protojson accepts the
// proto name and the lowerCamel JSON name).
func (e *encoder) key(snake, camel string) {
	if e.buf[len(e.buf)-1] != '{' {
		e.buf = append(e.buf, ',')
	}
	e.buf = append(e.buf, '"')
	if e.camel {
		e.buf = append(e.buf, camel...)
	} else {
		e.buf = append(e.buf, snake...)
	}
	e.buf = append(e.buf, '"', ':')
}

func (e *encoder) str(s string) { e.buf = appendString(e.buf, s) }

func (e *encoder) uint(v uint64) { e.buf = strconv.AppendUint(e.buf, v, 10) }

func (e *encoder) time(t time.Time) {
	e.buf = append(e.buf, '"')
	e.buf = t.UTC().AppendFormat(e.buf, "2006-01-02T15:04:05.000000000Z")
	e.buf = append(e.buf, '"')
}

func (e *encoder) strs(v []string) {
	e.buf = append(e.buf, '[')
	for i, s := range v {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		e.str(s)
	}
	e.buf = append(e.buf, ']')
}

// flowLine appends one {"flow":...,"node_name":...,"time":...} line.
func (e *encoder) flowLine(f *observe.Flow) {
	e.buf = append(e.buf, `{"flow":{`...)
	e.key("time", "time")
	e.time(f.Time)
	e.key("verdict", "verdict")
	e.str(f.Verdict.String())
	if f.DropReason != 0 {
		e.key("drop_reason", "dropReason")
		e.uint(uint64(f.DropReason))
	}
	e.key("IP", "IP")
	e.buf = append(e.buf, '{')
	e.key("source", "source")
	e.str(f.SrcIP.String())
	e.key("destination", "destination")
	e.str(f.DstIP.String())
	e.key("ipVersion", "ipVersion")
	e.str(f.IPVersion.String())
	e.buf = append(e.buf, '}')
	e.l4(&f.L4)
	e.key("source", "source")
	e.endpoint(&f.Source)
	e.key("destination", "destination")
	e.endpoint(&f.Destination)
	e.key("Type", "Type")
	e.str(f.Type.String())
	e.key("node_name", "nodeName")
	e.str(f.NodeName)
	if len(f.SourceNames) > 0 {
		e.key("source_names", "sourceNames")
		e.strs(f.SourceNames)
	}
	if len(f.DestinationNames) > 0 {
		e.key("destination_names", "destinationNames")
		e.strs(f.DestinationNames)
	}
	if f.L7 != nil {
		e.l7(f.L7)
	}
	e.key("event_type", "eventType")
	e.buf = append(e.buf, '{')
	e.key("type", "type")
	e.buf = strconv.AppendInt(e.buf, int64(f.EventType), 10)
	if f.EventSubType != 0 {
		e.key("sub_type", "subType")
		e.buf = strconv.AppendInt(e.buf, int64(f.EventSubType), 10)
	}
	e.buf = append(e.buf, '}')
	if f.SourceService.Name != "" {
		e.key("source_service", "sourceService")
		e.service(f.SourceService)
	}
	if f.DestinationService.Name != "" {
		e.key("destination_service", "destinationService")
		e.service(f.DestinationService)
	}
	if f.TrafficDirection != 0 {
		e.key("traffic_direction", "trafficDirection")
		e.str(f.TrafficDirection.String())
	}
	if f.ObservationPoint != 0 {
		e.key("trace_observation_point", "traceObservationPoint")
		e.str(f.ObservationPoint.String())
	}
	if f.DropReason != 0 {
		e.key("drop_reason_desc", "dropReasonDesc")
		e.str(f.DropReason.String())
	}
	if f.IsReply != observe.ReplyUnknown {
		e.key("is_reply", "isReply")
		e.buf = strconv.AppendBool(e.buf, f.IsReply == observe.ReplyTrue)
	}
	e.buf = append(e.buf, '}')
	e.key("node_name", "nodeName")
	e.str(f.NodeName)
	e.key("time", "time")
	e.time(f.Time)
	e.buf = append(e.buf, "}\n"...)
}

func (e *encoder) l4(l *observe.L4) {
	e.key("l4", "l4")
	e.buf = append(e.buf, '{')
	e.key(l.Protocol.String(), l.Protocol.String())
	e.buf = append(e.buf, '{')
	switch l.Protocol {
	case observe.ProtoTCP, observe.ProtoUDP, observe.ProtoSCTP:
		e.key("source_port", "sourcePort")
		e.uint(uint64(l.SrcPort))
		e.key("destination_port", "destinationPort")
		e.uint(uint64(l.DstPort))
		if l.Protocol == observe.ProtoTCP && l.Flags != 0 {
			e.key("flags", "flags")
			e.buf = append(e.buf, '{')
			for i, name := range tcpFlagNames() {
				if l.Flags&(1<<i) != 0 {
					e.key(name, name)
					e.buf = append(e.buf, "true"...)
				}
			}
			e.buf = append(e.buf, '}')
		}
	default:
		e.key("type", "type")
		e.uint(uint64(l.ICMPType))
		if l.ICMPCode != 0 {
			e.key("code", "code")
			e.uint(uint64(l.ICMPCode))
		}
	}
	e.buf = append(e.buf, '}', '}')
}

// tcpFlagNames follows the bit order of observe.TCPFlags.
func tcpFlagNames() [9]string {
	return [9]string{"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR", "NS"}
}

func (e *encoder) endpoint(ep *observe.Endpoint) {
	e.buf = append(e.buf, '{')
	if ep.ID != 0 {
		e.key("ID", "ID")
		e.uint(uint64(ep.ID))
	}
	e.key("identity", "identity")
	e.uint(uint64(ep.Identity))
	if ep.Namespace != "" {
		e.key("namespace", "namespace")
		e.str(ep.Namespace)
	}
	e.key("labels", "labels")
	e.strs(ep.Labels)
	if ep.PodName != "" {
		e.key("pod_name", "podName")
		e.str(ep.PodName)
	}
	if len(ep.Workloads) > 0 {
		e.key("workloads", "workloads")
		e.buf = append(e.buf, '[')
		for i, w := range ep.Workloads {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			e.buf = append(e.buf, '{')
			e.key("name", "name")
			e.str(w.Name)
			e.key("kind", "kind")
			e.str(w.Kind)
			e.buf = append(e.buf, '}')
		}
		e.buf = append(e.buf, ']')
	}
	e.buf = append(e.buf, '}')
}

func (e *encoder) service(s observe.Service) {
	e.buf = append(e.buf, '{')
	e.key("name", "name")
	e.str(s.Name)
	e.key("namespace", "namespace")
	e.str(s.Namespace)
	e.buf = append(e.buf, '}')
}

func (e *encoder) l7(l *observe.L7) {
	e.key("l7", "l7")
	e.buf = append(e.buf, '{')
	e.key("type", "type")
	e.str(l.Type.String())
	if l.LatencyNS != 0 {
		e.key("latency_ns", "latencyNs")
		e.buf = append(e.buf, '"')
		e.uint(l.LatencyNS)
		e.buf = append(e.buf, '"')
	}
	if d := l.DNS; d != nil {
		e.key("dns", "dns")
		e.buf = append(e.buf, '{')
		e.key("query", "query")
		e.str(d.Query)
		if len(d.IPs) > 0 {
			e.key("ips", "ips")
			e.buf = append(e.buf, '[')
			for i, ip := range d.IPs {
				if i > 0 {
					e.buf = append(e.buf, ',')
				}
				e.str(ip.String())
			}
			e.buf = append(e.buf, ']')
		}
		if d.TTL != 0 {
			e.key("ttl", "ttl")
			e.uint(uint64(d.TTL))
		}
		if d.Rcode != 0 {
			e.key("rcode", "rcode")
			e.uint(uint64(d.Rcode))
		}
		if len(d.Qtypes) > 0 {
			e.key("qtypes", "qtypes")
			e.strs(d.Qtypes)
		}
		e.key("observation_source", "observationSource")
		e.str("proxy")
		e.buf = append(e.buf, '}')
	}
	if k := l.Kafka; k != nil {
		e.key("kafka", "kafka")
		e.buf = append(e.buf, '{')
		e.key("api_version", "apiVersion")
		e.uint(uint64(k.APIVersion))
		e.key("api_key", "apiKey")
		e.str(k.APIKey)
		e.key("topic", "topic")
		e.str(k.Topic)
		e.buf = append(e.buf, '}')
	}
	if h := l.HTTP; h != nil {
		e.key("http", "http")
		e.buf = append(e.buf, '{')
		if h.Code != 0 {
			e.key("code", "code")
			e.uint(uint64(h.Code))
		}
		e.key("method", "method")
		e.str(h.Method)
		e.key("url", "url")
		e.str(h.URL)
		e.key("protocol", "protocol")
		e.str(h.Protocol)
		e.buf = append(e.buf, '}')
	}
	e.buf = append(e.buf, '}')
}

// lostLine appends one lost_events notice line.
func (e *encoder) lostLine(l *observe.LostEvent) {
	e.buf = append(e.buf, `{"`...)
	if e.camel {
		e.buf = append(e.buf, "lostEvents"...)
	} else {
		e.buf = append(e.buf, "lost_events"...)
	}
	e.buf = append(e.buf, `":{`...)
	e.key("source", "source")
	e.str(l.Source.String())
	e.key("num_events_lost", "numEventsLost")
	e.buf = append(e.buf, '"')
	e.uint(l.NumLost)
	e.buf = append(e.buf, '"')
	if l.HasCPU {
		e.key("cpu", "cpu")
		e.buf = strconv.AppendInt(e.buf, int64(l.CPU), 10)
	}
	e.buf = append(e.buf, '}')
	e.key("node_name", "nodeName")
	e.str(l.NodeName)
	e.key("time", "time")
	e.time(l.Time)
	e.buf = append(e.buf, "}\n"...)
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
			i++
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			i++
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, s[i:i+n]...)
			}
			i += n
		}
	}
	return append(b, '"')
}
