package wire

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	relaypb "github.com/cilium/cilium/api/v1/relay"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/netpolgen/netpolgen/internal/flowdecode"
	"github.com/netpolgen/netpolgen/pkg/observe"
)

// Decoder decodes GetFlowsResponse messages from their protobuf wire
// bytes straight into Records, reading only the fields a Flow holds and
// skipping the rest unparsed. It is the live client's fast path: it gives
// the same Flow as FromProto on the generated message. Like Decoder it
// caches repeated strings and endpoints, so reuse one per stream; it is
// not safe for concurrent use.
type Decoder struct {
	strings   flowdecode.Strings
	endpoints flowdecode.Cache[observe.Endpoint]
	// labelSets and workloadSets share one slice among the pods of a
	// workload, keyed by the bytes of the fields they come from.
	labelSets    flowdecode.Cache[[]string]
	workloadSets flowdecode.Cache[[]observe.Workload]
	addrs        flowdecode.Cache[netip.Addr]
	// Node is the last node status notice decoded (Kind KindNodeStatus).
	Node observe.NodeStatus
}

// NewDecoder returns a Decoder with empty caches.
func NewDecoder() *Decoder {
	return &Decoder{
		strings:      flowdecode.NewStrings(flowdecode.Limit),
		endpoints:    flowdecode.NewCache[observe.Endpoint](flowdecode.Limit),
		labelSets:    flowdecode.NewCache[[]string](flowdecode.SetLimit),
		workloadSets: flowdecode.NewCache[[]observe.Workload](flowdecode.SetLimit),
		addrs:        flowdecode.NewCache[netip.Addr](flowdecode.Limit),
	}
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

// varint reports whether the field is the varint field num.
func (f *wireField) varint(num protowire.Number) bool {
	return f.num == num && f.typ == protowire.VarintType
}

// bytes reports whether the field is the length-delimited field num.
func (f *wireField) bytes(num protowire.Number) bool {
	return f.num == num && f.typ == protowire.BytesType
}

// wireReader walks the fields of one message. A loop over next ends at
// the end of the message or at the first malformed field, kept in err.
type wireReader struct {
	b   []byte
	err error
}

func (r *wireReader) next(f *wireField) bool {
	b := r.b
	if len(b) == 0 || r.err != nil {
		return false
	}
	// Fast path for tags, varints and lengths of one or two bytes, which
	// is nearly every field of a flow; anything else, and every error, is
	// left to the general path.
	var tag uint64
	i := 0
	switch {
	case b[0] < 0x80:
		tag, i = uint64(b[0]), 1
	case len(b) >= 2 && b[1] < 0x80:
		tag, i = uint64(b[0]&0x7f)|uint64(b[1])<<7, 2
	default:
		return r.nextSlow(f)
	}
	num, typ := protowire.Number(tag>>3), protowire.Type(tag&7)
	if num == 0 || (typ != protowire.VarintType && typ != protowire.BytesType) {
		return r.nextSlow(f)
	}
	var v uint64
	switch {
	case i < len(b) && b[i] < 0x80:
		v, i = uint64(b[i]), i+1
	case i+1 < len(b) && b[i+1] < 0x80:
		v, i = uint64(b[i]&0x7f)|uint64(b[i+1])<<7, i+2
	default:
		return r.nextSlow(f)
	}
	if typ == protowire.VarintType {
		*f = wireField{num: num, typ: typ, v: v}
		r.b = b[i:]
		return true
	}
	n := int(v)
	if n > len(b)-i {
		return r.nextSlow(f)
	}
	*f = wireField{num: num, typ: typ, b: b[i : i+n : i+n]}
	r.b = b[i+n:]
	return true
}

func (r *wireReader) nextSlow(f *wireField) bool {
	num, typ, n := protowire.ConsumeTag(r.b)
	if n < 0 {
		r.err = protowire.ParseError(n)
		return false
	}
	data := r.b[n:]
	*f = wireField{num: num, typ: typ}
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
		r.err = protowire.ParseError(n)
		return false
	}
	r.b = data[n:]
	return true
}

// ErrEmptyResponse is returned for a GetFlowsResponse that holds none of a
// flow, a lost-events notice or a node status.
var ErrEmptyResponse = errors.New("GetFlowsResponse holds no flow, lost_events or node_status")

// Decode parses one GetFlowsResponse into rec, overwriting it. The
// record's strings may be shared with earlier records; the caller must not
// modify them.
func (d *Decoder) Decode(data []byte, rec *observe.Record) error {
	if err := d.decode(data, rec); err != nil {
		return fmt.Errorf("malformed GetFlowsResponse: %w", err)
	}
	return nil
}

func (d *Decoder) decode(data []byte, rec *observe.Record) error {
	*rec = observe.Record{}
	var (
		envTime time.Time
		envNode string
		kind    = observe.Kind(255)
		f       wireField
		err     error
		// unknown and envelope track a response holding only fields
		// this decoder does not know beside the node and time: an event
		// kind a newer Hubble added.
		unknown, envelope bool
	)
	r := wireReader{b: data}
	for r.next(&f) {
		if f.typ != protowire.BytesType {
			unknown = unknown || !knownResponseField(f.num)
			continue
		}
		switch f.num {
		case respFlow:
			if kind != observe.KindFlow {
				rec.Flow = observe.Flow{}
			}
			kind = observe.KindFlow
			err = d.flow(f.b, &rec.Flow)
		case respLostEvents:
			if kind != observe.KindLostEvents {
				rec.Lost = observe.LostEvent{}
			}
			kind = observe.KindLostEvents
			err = lostEvent(f.b, &rec.Lost)
		case respNodeStatus:
			if kind != observe.KindNodeStatus {
				d.Node = observe.NodeStatus{}
			}
			kind = observe.KindNodeStatus
			err = d.nodeStatus(f.b)
		case respNodeName:
			envNode, envelope = d.strings.Get(f.b), true
		case respTime:
			envelope = true
			envTime, err = timestamp(f.b)
		default:
			unknown = true
		}
		if err != nil {
			return err
		}
	}
	if r.err != nil {
		return r.err
	}
	switch kind {
	case observe.KindFlow:
		if rec.Flow.NodeName == "" {
			rec.Flow.NodeName = envNode
		}
		if rec.Flow.Time.IsZero() {
			rec.Flow.Time = envTime
		}
	case observe.KindLostEvents:
		rec.Lost.NodeName, rec.Lost.Time = envNode, envTime
	case observe.KindNodeStatus:
	default:
		if !unknown || !envelope {
			return ErrEmptyResponse
		}
		kind = observe.KindUnknownEvent
	}
	rec.Kind = kind
	return nil
}

func knownResponseField(num protowire.Number) bool {
	switch num {
	case respFlow, respNodeStatus, respLostEvents, respNodeName, respTime:
		return true
	}
	return false
}

// flow decodes the Flow fields netpolgen keeps (api/v1/flow/flow.proto
// numbers) and skips the rest unparsed.
func (d *Decoder) flow(data []byte, fl *observe.Flow) error {
	var (
		f   wireField
		err error
	)
	r := wireReader{b: data}
	for r.next(&f) {
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
			continue
		}
		if f.typ != protowire.BytesType {
			continue
		}
		switch f.num {
		case 1:
			fl.Time, err = timestamp(f.b)
		case 5:
			err = d.ip(f.b, fl)
		case 6:
			err = l4(f.b, &fl.L4)
		case 8:
			fl.Source, err = d.endpoint(f.b)
		case 9:
			fl.Destination, err = d.endpoint(f.b)
		case 11:
			fl.NodeName = d.strings.Get(f.b)
		case 13:
			fl.SourceNames = append(fl.SourceNames, d.strings.Get(f.b))
		case 14:
			fl.DestinationNames = append(fl.DestinationNames, d.strings.Get(f.b))
		case 15:
			if fl.L7 == nil {
				fl.L7 = &observe.L7{}
			}
			err = d.l7(f.b, fl.L7)
		case 19:
			err = eventType(f.b, fl)
		case 20:
			err = d.service(f.b, &fl.SourceService)
		case 21:
			err = d.service(f.b, &fl.DestinationService)
		case 26:
			err = isReply(f.b, fl)
		}
		if err != nil {
			return err
		}
	}
	return r.err
}

func eventType(data []byte, fl *observe.Flow) error {
	var f wireField
	r := wireReader{b: data}
	for r.next(&f) {
		switch {
		case f.varint(1):
			fl.EventType = int32(f.v)
		case f.varint(2):
			fl.EventSubType = int32(f.v)
		}
	}
	return r.err
}

// isReply decodes the is_reply BoolValue: present means known.
func isReply(data []byte, fl *observe.Flow) error {
	if fl.IsReply == observe.ReplyUnknown {
		fl.IsReply = observe.ReplyFalse
	}
	var f wireField
	r := wireReader{b: data}
	for r.next(&f) {
		if f.varint(1) {
			fl.IsReply = observe.ReplyFalse
			if f.v != 0 {
				fl.IsReply = observe.ReplyTrue
			}
		}
	}
	return r.err
}

func (d *Decoder) ip(data []byte, fl *observe.Flow) error {
	var f wireField
	r := wireReader{b: data}
	for r.next(&f) {
		switch {
		case f.bytes(1):
			fl.SrcIP = d.addr(f.b)
		case f.bytes(2):
			fl.DstIP = d.addr(f.b)
		case f.varint(3):
			fl.IPVersion = flowpb.IPVersion(int32(f.v))
		case f.bytes(5):
			fl.SrcXlated = d.addr(f.b)
		}
	}
	return r.err
}

// l4Protocol maps a Layer4 oneof field number to its protocol.
func l4Protocol(num protowire.Number) observe.Protocol {
	switch num {
	case 1:
		return observe.ProtoTCP
	case 2:
		return observe.ProtoUDP
	case 3:
		return observe.ProtoICMPv4
	case 4:
		return observe.ProtoICMPv6
	case 5:
		return observe.ProtoSCTP
	case 6:
		return observe.ProtoVRRP
	case 7:
		return observe.ProtoIGMP
	}
	return observe.ProtoUnknown
}

// l4 decodes the Layer4 oneof: a later member replaces an earlier one, as
// in the generated code.
func l4(data []byte, l *observe.L4) error {
	var f wireField
	r := wireReader{b: data}
	for r.next(&f) {
		proto := l4Protocol(f.num)
		if f.typ != protowire.BytesType || proto == observe.ProtoUnknown {
			continue
		}
		if l.Protocol != proto {
			*l = observe.L4{Protocol: proto}
		}
		if err := l4Header(f.b, l); err != nil {
			return err
		}
	}
	return r.err
}

func l4Header(data []byte, l *observe.L4) error {
	var f wireField
	r := wireReader{b: data}
	for r.next(&f) {
		if f.bytes(3) && l.Protocol == observe.ProtoTCP {
			if err := tcpFlags(f.b, &l.Flags); err != nil {
				return err
			}
			continue
		}
		if f.typ != protowire.VarintType {
			continue
		}
		switch l.Protocol {
		case observe.ProtoTCP, observe.ProtoUDP, observe.ProtoSCTP:
			switch f.num {
			case 1:
				l.SrcPort = uint16(uint32(f.v))
			case 2:
				l.DstPort = uint16(uint32(f.v))
			}
		case observe.ProtoICMPv4, observe.ProtoICMPv6:
			switch f.num {
			case 1:
				l.ICMPType = uint8(uint32(f.v))
			case 2:
				l.ICMPCode = uint8(uint32(f.v))
			}
		case observe.ProtoVRRP, observe.ProtoIGMP:
			if f.num == 1 {
				l.ICMPType = uint8(uint32(f.v))
			}
		}
	}
	return r.err
}

func tcpFlags(data []byte, flags *observe.TCPFlags) error {
	// TCPFlags fields 1..9 are FIN, SYN, RST, PSH, ACK, URG, ECE, CWR, NS:
	// the same order as the TCPFlags bits.
	var f wireField
	r := wireReader{b: data}
	for r.next(&f) {
		if f.typ != protowire.VarintType || f.num < 1 || f.num > 9 {
			continue
		}
		bit := observe.TCPFlags(1) << (f.num - 1)
		if f.v != 0 {
			*flags |= bit
		} else {
			*flags &^= bit
		}
	}
	return r.err
}

// endpoint decodes an Endpoint, caching it by its bytes: the same pods
// appear in most flows of a stream and their labels dominate decoding.
func (d *Decoder) endpoint(data []byte) (observe.Endpoint, error) {
	if len(data) == 0 {
		return observe.Endpoint{}, nil
	}
	cached, hit := d.endpoints.Lookup(data)
	if hit {
		return cached.Val, nil
	}
	var (
		ep observe.Endpoint
		f  wireField
	)
	r := wireReader{b: data}
	for before := r.b; r.next(&f); before = r.b {
		switch {
		case f.varint(1):
			ep.ID = uint32(f.v)
		case f.varint(2):
			ep.Identity = uint32(f.v)
		case f.bytes(3):
			ep.Namespace = d.strings.Get(f.b)
		case f.bytes(4):
			// Labels, and the workloads below, are a run of repeated
			// fields, shared with the other pods of the workload.
			run := fieldRun(&r, before, 4)
			ep.Labels = appendShared(ep.Labels, d.labelSet(run))
		case f.bytes(5):
			// A pod name is the pod's own: interning it would only
			// push shared strings out of the flowdecode.Strings.
			ep.PodName = string(f.b)
		case f.bytes(6):
			run := fieldRun(&r, before, 6)
			ws, err := d.workloadSet(run)
			if err != nil {
				return observe.Endpoint{}, err
			}
			ep.Workloads = appendShared(ep.Workloads, ws)
		case f.bytes(7):
			ep.ClusterName = d.strings.Get(f.b)
		}
	}
	if r.err != nil {
		return observe.Endpoint{}, r.err
	}
	flowdecode.Fill(cached, string(data), ep)
	return ep, nil
}

// fieldRun returns the bytes of the run of length-delimited fields num
// that starts at before (the field r just read), and moves r past it.
func fieldRun(r *wireReader, before []byte, num protowire.Number) []byte {
	var f wireField
	for {
		rest := r.b
		if !r.next(&f) {
			r.b, r.err = rest, nil
			break
		}
		if !f.bytes(num) {
			r.b = rest
			break
		}
	}
	return before[:len(before)-len(r.b)]
}

// appendShared appends a shared slice to a field: usually the field is
// empty and takes the shared slice itself; a second run of the same field
// (legal, if no encoder writes one) copies, so the shared one is never
// changed.
func appendShared[T any](field, shared []T) []T {
	if len(field) == 0 {
		return shared
	}
	return append(field[:len(field):len(field)], shared...)
}

// labelSet decodes a run of label fields, cached by its bytes.
func (d *Decoder) labelSet(run []byte) []string {
	s, hit := d.labelSets.Lookup(run)
	if hit {
		return s.Val
	}
	var (
		labels []string
		f      wireField
	)
	r := wireReader{b: run}
	for r.next(&f) {
		labels = append(labels, d.strings.Get(f.b))
	}
	labels = labels[:len(labels):len(labels)]
	flowdecode.Fill(s, string(run), labels)
	return labels
}

// workloadSet decodes a run of workload fields, cached by its bytes.
func (d *Decoder) workloadSet(run []byte) ([]observe.Workload, error) {
	s, hit := d.workloadSets.Lookup(run)
	if hit {
		return s.Val, nil
	}
	var (
		ws []observe.Workload
		f  wireField
	)
	r := wireReader{b: run}
	for r.next(&f) {
		w, err := d.workload(f.b)
		if err != nil {
			return nil, err
		}
		ws = append(ws, w)
	}
	ws = ws[:len(ws):len(ws)]
	flowdecode.Fill(s, string(run), ws)
	return ws, nil
}

func (d *Decoder) workload(data []byte) (observe.Workload, error) {
	var (
		w observe.Workload
		f wireField
	)
	r := wireReader{b: data}
	for r.next(&f) {
		switch {
		case f.bytes(1):
			w.Name = d.strings.Get(f.b)
		case f.bytes(2):
			w.Kind = d.strings.Get(f.b)
		}
	}
	return w, r.err
}

func (d *Decoder) service(data []byte, svc *observe.Service) error {
	var f wireField
	r := wireReader{b: data}
	for r.next(&f) {
		switch {
		case f.bytes(1):
			svc.Name = d.strings.Get(f.b)
		case f.bytes(2):
			svc.Namespace = d.strings.Get(f.b)
		}
	}
	return r.err
}

// l7 decodes a Layer7 record; dns, http and kafka are a oneof, so a later
// one replaces an earlier one.
func (d *Decoder) l7(data []byte, l7 *observe.L7) error {
	var f wireField
	r := wireReader{b: data}
	for r.next(&f) {
		switch {
		case f.varint(1):
			l7.Type = flowpb.L7FlowType(int32(f.v))
		case f.varint(2):
			l7.LatencyNS = f.v
		case f.bytes(100):
			if l7.DNS == nil {
				l7.DNS, l7.HTTP, l7.Other, l7.Kafka = &observe.DNS{}, nil, "", nil
			}
			if err := d.dns(f.b, l7.DNS); err != nil {
				return err
			}
		case f.bytes(101):
			if l7.HTTP == nil {
				l7.DNS, l7.HTTP, l7.Other, l7.Kafka = nil, &observe.HTTP{}, "", nil
			}
			if err := d.http(f.b, l7.HTTP); err != nil {
				return err
			}
		case f.bytes(102):
			if l7.Kafka == nil {
				l7.DNS, l7.HTTP, l7.Other, l7.Kafka = nil, nil, "kafka", &observe.Kafka{}
			}
			if err := d.kafka(f.b, l7.Kafka); err != nil {
				return err
			}
		}
	}
	return r.err
}

func (d *Decoder) kafka(data []byte, k *observe.Kafka) error {
	var f wireField
	r := wireReader{b: data}
	for r.next(&f) {
		switch {
		case f.varint(1):
			k.ErrorCode = int32(f.v)
		case f.varint(2):
			k.APIVersion = int32(f.v)
		case f.bytes(3):
			k.APIKey = d.strings.Get(f.b)
		case f.bytes(5):
			k.Topic = d.strings.Get(f.b)
		}
	}
	return r.err
}

func (d *Decoder) dns(data []byte, dns *observe.DNS) error {
	var f wireField
	r := wireReader{b: data}
	for r.next(&f) {
		switch {
		case f.bytes(1):
			dns.Query = d.strings.Get(f.b)
		case f.bytes(2):
			if a := d.addr(f.b); a.IsValid() {
				dns.IPs = append(dns.IPs, a)
			}
		case f.varint(3):
			dns.TTL = uint32(f.v)
		case f.bytes(4):
			dns.CNAMEs = append(dns.CNAMEs, d.strings.Get(f.b))
		case f.varint(6):
			dns.Rcode = uint32(f.v)
		case f.bytes(7):
			dns.Qtypes = append(dns.Qtypes, d.strings.Get(f.b))
		}
	}
	return r.err
}

func (d *Decoder) http(data []byte, h *observe.HTTP) error {
	var f wireField
	r := wireReader{b: data}
	for r.next(&f) {
		switch {
		case f.varint(1):
			h.Code = uint32(f.v)
		case f.bytes(2):
			h.Method = d.strings.Get(f.b)
		case f.bytes(3):
			// URLs are too varied to be worth interning.
			h.URL = string(f.b)
		case f.bytes(4):
			h.Protocol = d.strings.Get(f.b)
		}
	}
	return r.err
}

func lostEvent(data []byte, l *observe.LostEvent) error {
	var (
		f   wireField
		err error
	)
	r := wireReader{b: data}
	for r.next(&f) {
		switch {
		case f.varint(1):
			l.Source = flowpb.LostEventSource(int32(f.v))
		case f.varint(2):
			l.NumLost = f.v
		case f.bytes(3):
			l.HasCPU = true
			l.CPU, err = int32Value(f.b)
		case f.bytes(4):
			l.FirstEvent, err = timestamp(f.b)
		case f.bytes(5):
			l.LastEvent, err = timestamp(f.b)
		}
		if err != nil {
			return err
		}
	}
	return r.err
}

// int32Value decodes a google.protobuf.Int32Value.
func int32Value(data []byte) (int32, error) {
	var (
		v int32
		f wireField
	)
	r := wireReader{b: data}
	for r.next(&f) {
		if f.varint(1) {
			v = int32(f.v)
		}
	}
	return v, r.err
}

func (d *Decoder) nodeStatus(data []byte) error {
	n := &d.Node
	var f wireField
	r := wireReader{b: data}
	for r.next(&f) {
		switch {
		case f.varint(1):
			n.State = relaypb.NodeState(int32(f.v))
		case f.bytes(2):
			n.NodeNames = append(n.NodeNames, d.strings.Get(f.b))
		case f.bytes(3):
			n.Message = string(f.b)
		}
	}
	return r.err
}

// timestamp decodes a google.protobuf.Timestamp as AsTime does.
func timestamp(data []byte) (time.Time, error) {
	var (
		sec, nsec int64
		f         wireField
	)
	r := wireReader{b: data}
	for r.next(&f) {
		switch {
		case f.varint(1):
			sec = int64(f.v)
		case f.varint(2):
			nsec = int64(int32(f.v))
		}
	}
	if r.err != nil {
		return time.Time{}, r.err
	}
	return time.Unix(sec, nsec).UTC(), nil
}

// addr parses an IP address: dotted-quad IPv4 directly, anything else
// through a cache, since netip.ParseAddr copies its input.
func (d *Decoder) addr(b []byte) netip.Addr {
	if a, ok := flowdecode.ParseIPv4(b); ok {
		return a
	}
	if len(b) == 0 {
		return netip.Addr{}
	}
	s, hit := d.addrs.Lookup(b)
	if !hit {
		a, _ := netip.ParseAddr(string(b))
		flowdecode.Fill(s, string(b), a)
	}
	return s.Val
}
