package capture

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/netpolgen/netpolgen/internal/observetest"
	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/observe/wire"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	observerpb "github.com/cilium/cilium/api/v1/observer"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// apiFields is what the decoders read from each message of the Hubble
// API (by proto field name) and what they knowingly skip. Every field of
// every listed message must be in one list or the other, so a Cilium API
// upgrade that adds a field fails TestDecodersCoverTheAPI until someone
// decides whether netpolgen needs it. A decoded message field whose type
// is listed here is checked field by field; one whose type is not is read
// for its presence only (a node status, a timestamp, a wrapper).
func apiFields() map[protoreflect.FullName]fieldLists {
	return map[protoreflect.FullName]fieldLists{
		"observer.GetFlowsResponse": {decoded: []string{"flow", "node_status", "lost_events", "node_name", "time"}},
		// ExportEvent is what `hubble observe -o jsonpb` and the exporter
		// write; only the JSON decoder reads it.
		"observer.ExportEvent": {decoded: []string{"flow", "node_status", "lost_events", "agent_event", "debug_event", "node_name", "time"}},
		"flow.Flow": {
			decoded: []string{"time", "verdict", "drop_reason_desc", "IP", "l4", "source", "destination", "Type", "node_name",
				"source_names", "destination_names", "l7", "reply", "event_type", "source_service", "destination_service",
				"traffic_direction", "trace_observation_point", "is_reply"},
			ignored: []string{"uuid", "emitter", "drop_reason", "auth_type", "ethernet", "tunnel", "node_labels", "policy_match_type",
				"trace_reason", "file", "ip_trace_id", "debug_capture_point", "interface", "proxy_port", "trace_context",
				"sock_xlate_point", "socket_cookie", "cgroup_id", "Summary", "extensions", "egress_allowed_by",
				"ingress_allowed_by", "egress_denied_by", "ingress_denied_by", "policy_log", "aggregate"},
		},
		"flow.IP":              {decoded: []string{"source", "source_xlated", "destination", "ipVersion"}, ignored: []string{"encrypted"}},
		"flow.Layer4":          {decoded: []string{"TCP", "UDP", "ICMPv4", "ICMPv6", "SCTP", "VRRP", "IGMP"}},
		"flow.TCP":             {decoded: []string{"source_port", "destination_port", "flags"}},
		"flow.TCPFlags":        {decoded: []string{"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR", "NS"}},
		"flow.UDP":             {decoded: []string{"source_port", "destination_port"}},
		"flow.SCTP":            {decoded: []string{"source_port", "destination_port"}, ignored: []string{"chunk_type"}},
		"flow.ICMPv4":          {decoded: []string{"type", "code"}},
		"flow.ICMPv6":          {decoded: []string{"type", "code"}},
		"flow.VRRP":            {decoded: []string{"type"}, ignored: []string{"vrid", "priority"}},
		"flow.IGMP":            {decoded: []string{"type"}, ignored: []string{"group_address"}},
		"flow.Endpoint":        {decoded: []string{"ID", "identity", "cluster_name", "namespace", "labels", "pod_name", "workloads"}},
		"flow.Workload":        {decoded: []string{"name", "kind"}},
		"flow.Service":         {decoded: []string{"name", "namespace"}},
		"flow.CiliumEventType": {decoded: []string{"type", "sub_type"}},
		"flow.Layer7":          {decoded: []string{"type", "latency_ns", "dns", "http", "kafka"}},
		"flow.DNS":             {decoded: []string{"query", "ips", "ttl", "cnames", "rcode", "qtypes"}, ignored: []string{"observation_source", "rrtypes"}},
		"flow.HTTP":            {decoded: []string{"code", "method", "url", "protocol"}, ignored: []string{"headers"}},
		"flow.Kafka":           {decoded: []string{"error_code", "api_version", "api_key", "topic"}, ignored: []string{"correlation_id"}},
		"flow.LostEvent":       {decoded: []string{"source", "num_events_lost", "cpu", "first", "last"}},
	}
}

// fieldLists are the fields of one message the decoders read and skip.
type fieldLists struct{ decoded, ignored []string }

// legacyJSONKeys are keys the JSON decoder knows that today's API no
// longer has, kept for captures written by older Hubble versions.
func legacyJSONKeys() []string { return []string{"rateLimitInfo"} }

// decodeCmp compares Records; the two decoders may give the same instant
// different locations.
func decodeCmp() []cmp.Option {
	return append(observetest.FlowCmp(), cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) }))
}

// outcome is what a decoder made of one input.
type outcome struct {
	rec observe.Record
	err string
}

func (o outcome) differs(p outcome) bool {
	return o.err != p.err || !cmp.Equal(o.rec, p.rec, decodeCmp()...)
}

// TestDecodersCoverTheAPI walks the descriptors of the generated Hubble
// API and, for every field of every message the decoders read, encodes a
// message with that field set, as protobuf and as protojson (proto and
// JSON names), and checks: the field is listed as decoded or ignored;
// each decoder agrees with protojson/proto plus FromProto; a decoded
// field changes the record (so its number and JSON name are the ones the
// decoders use) and an ignored one does not (and does not break it).
func TestDecodersCoverTheAPI(t *testing.T) {
	for name, lists := range apiFields() {
		md := descriptorByName(t, name)
		for _, f := range append(slices.Clone(lists.decoded), lists.ignored...) {
			if md.Fields().ByName(protoreflect.Name(f)) == nil {
				t.Errorf("%s has no field %q, which the decoders claim to handle", name, f)
			}
		}
	}
	roots := []struct {
		msg  proto.Message
		wire bool
	}{
		{&observerpb.GetFlowsResponse{}, true},
		{&observerpb.ExportEvent{}, false},
	}
	checked := 0
	for _, root := range roots {
		walkFields(t, root.msg.ProtoReflect().Descriptor(), nil, func(path []protoreflect.FieldDescriptor, leaf protoreflect.FieldDescriptor, decoded bool) {
			checked++
			name := fieldPath(path, leaf)
			with := buildPath(root.msg, path, leaf)
			base := buildPath(root.msg, path, nil)
			if len(path) == 0 && leaf.ContainingOneof() == nil {
				// An envelope field: a response always holds an event.
				for _, m := range []proto.Message{with, base} {
					m.ProtoReflect().Mutable(m.ProtoReflect().Descriptor().Fields().ByName("flow"))
				}
			}
			for _, style := range []bool{false, true} {
				w, b := jsonLine(t, with, style), jsonLine(t, base, style)
				got, gotBase := decodeJSON(w), decodeJSON(b)
				if decoded != got.differs(gotBase) {
					t.Errorf("JSON %s (proto names %v): decoded %v, but the record changed %v:\n%s\n%s", name, style, decoded, !decoded, w, b)
				}
				if got.err == "" {
					want, err := observetest.ReferenceJSON(w)
					if err != nil {
						t.Fatalf("%s: protojson: %v", w, err)
					}
					if diff := cmp.Diff(want, got.rec, decodeCmp()...); diff != "" {
						t.Errorf("JSON %s: differs from protojson (-want +got):\n%s", name, diff)
					}
				}
			}
			if !root.wire {
				return
			}
			w, b := wireBytes(t, with), wireBytes(t, base)
			got, gotBase := decodeWire(w), decodeWire(b)
			if decoded != got.differs(gotBase) {
				t.Errorf("wire %s (number %d): decoded %v, but the record changed %v", name, leaf.Number(), decoded, !decoded)
			}
			if got.err == "" {
				if diff := cmp.Diff(observetest.ReferenceResponse(with.(*observerpb.GetFlowsResponse)), got.rec, decodeCmp()...); diff != "" {
					t.Errorf("wire %s: differs from FromProto (-want +got):\n%s", name, diff)
				}
			}
		})
	}
	if checked < 100 {
		t.Fatalf("checked only %d fields: the walk is broken", checked)
	}
}

// TestBareFlowKeysAreFlowFields: a bare Flow (the legacy `hubble observe
// -o json` line) is recognised by any one of its fields, decoded or
// skipped, so the JSON decoder's list of Flow keys must name every Flow
// field; and every key it lists must be one. time and node_name are left
// out of the first check: alone they are also the envelope's.
func TestBareFlowKeysAreFlowFields(t *testing.T) {
	md := (&flowpb.Flow{}).ProtoReflect().Descriptor()
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.Name() == "time" || fd.Name() == "node_name" {
			continue
		}
		m := &flowpb.Flow{}
		setField(m.ProtoReflect(), fd, 0)
		for _, style := range []bool{false, true} {
			line := jsonLine(t, m, style)
			if got := decodeJSON(line); got.err != "" || got.rec.Kind != observe.KindFlow {
				t.Errorf("bare flow %s: got %v, %q; want a flow", line, got.rec.Kind, got.err)
			}
		}
	}
	jsonNames := map[string]bool{}
	for i := range fields.Len() {
		jsonNames[fields.Get(i).JSONName()] = true
	}
	for _, k := range switchCases(t, "decode.go", "flowField") {
		if !jsonNames[k] {
			t.Errorf("flowField handles %q, which is not the JSON name of a flow.Flow field", k)
		}
	}
	envelope := map[string]bool{}
	for _, m := range []proto.Message{&observerpb.GetFlowsResponse{}, &observerpb.ExportEvent{}} {
		fs := m.ProtoReflect().Descriptor().Fields()
		for i := range fs.Len() {
			envelope[fs.Get(i).JSONName()] = true
		}
	}
	for _, k := range legacyJSONKeys() {
		envelope[k] = true
	}
	for _, k := range switchCases(t, "decode.go", "Decode") {
		if !envelope[k] {
			t.Errorf("Decode handles envelope key %q, which neither GetFlowsResponse nor ExportEvent has", k)
		}
	}
}

// walkFields calls check for every field of md and, through the decoded
// message fields whose types apiFields lists, of the messages below.
func walkFields(t *testing.T, md protoreflect.MessageDescriptor, path []protoreflect.FieldDescriptor, check func(path []protoreflect.FieldDescriptor, leaf protoreflect.FieldDescriptor, decoded bool)) {
	lists, ok := apiFields()[md.FullName()]
	if !ok {
		t.Fatalf("%s is not in apiFields", md.FullName())
	}
	if len(path) > 8 {
		t.Fatalf("%s: path too deep", fieldPath(path, nil))
	}
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		decoded := slices.Contains(lists.decoded, string(fd.Name()))
		if !decoded && !slices.Contains(lists.ignored, string(fd.Name())) {
			t.Errorf("%s.%s (number %d, JSON %q) is neither decoded nor listed as ignored: a newer API? decide and list it in apiFields",
				md.FullName(), fd.Name(), fd.Number(), fd.JSONName())
			continue
		}
		if sub := fd.Message(); decoded && sub != nil {
			if _, listed := apiFields()[sub.FullName()]; listed {
				walkFields(t, sub, append(slices.Clone(path), fd), check)
				continue
			}
		}
		check(path, fd, decoded)
	}
}

func descriptorByName(t *testing.T, name protoreflect.FullName) protoreflect.MessageDescriptor {
	t.Helper()
	var found protoreflect.MessageDescriptor
	for _, m := range []proto.Message{&observerpb.GetFlowsResponse{}, &observerpb.ExportEvent{}} {
		var visit func(md protoreflect.MessageDescriptor, depth int)
		visit = func(md protoreflect.MessageDescriptor, depth int) {
			if found != nil || depth > 6 {
				return
			}
			if md.FullName() == name {
				found = md
				return
			}
			for i := range md.Fields().Len() {
				if sub := md.Fields().Get(i).Message(); sub != nil {
					visit(sub, depth+1)
				}
			}
		}
		visit(m.ProtoReflect().Descriptor(), 0)
	}
	if found == nil {
		t.Fatalf("no message %s below GetFlowsResponse or ExportEvent", name)
	}
	return found
}

func fieldPath(path []protoreflect.FieldDescriptor, leaf protoreflect.FieldDescriptor) string {
	var parts []string
	for _, fd := range append(slices.Clone(path), leaf) {
		if fd != nil {
			parts = append(parts, string(fd.Name()))
		}
	}
	return strings.Join(parts, ".")
}

// buildPath returns a new message of root's type with the messages along
// path present (one element of a repeated one) and, when leaf is not nil,
// leaf set at the end.
func buildPath(root proto.Message, path []protoreflect.FieldDescriptor, leaf protoreflect.FieldDescriptor) proto.Message {
	m := root.ProtoReflect().New()
	cur := m
	for _, fd := range path {
		if fd.IsList() {
			list := cur.Mutable(fd).List()
			elem := list.NewElement()
			list.Append(elem)
			cur = elem.Message()
			continue
		}
		cur = cur.Mutable(fd).Message()
	}
	if leaf != nil {
		setField(cur, leaf, 0)
	}
	return m.Interface()
}

// setField sets fd in m to a value that is not the default: scalars to a
// fixed value, messages filled in (to a bounded depth), lists to one
// element.
func setField(m protoreflect.Message, fd protoreflect.FieldDescriptor, depth int) {
	switch {
	case fd.IsMap():
		mp := m.Mutable(fd).Map()
		mp.Set(protoreflect.ValueOf(scalar(fd.MapKey())).MapKey(), mapValue(mp, fd.MapValue(), depth))
	case fd.IsList():
		list := m.Mutable(fd).List()
		if fd.Message() != nil {
			elem := list.NewElement()
			fillMessage(elem.Message(), depth+1)
			list.Append(elem)
		} else {
			list.Append(protoreflect.ValueOf(scalar(fd)))
		}
	case fd.Message() != nil:
		fillMessage(m.Mutable(fd).Message(), depth+1)
	default:
		m.Set(fd, protoreflect.ValueOf(scalar(fd)))
	}
}

func mapValue(mp protoreflect.Map, fd protoreflect.FieldDescriptor, depth int) protoreflect.Value {
	if fd.Message() != nil {
		v := mp.NewValue()
		fillMessage(v.Message(), depth+1)
		return v
	}
	return protoreflect.ValueOf(scalar(fd))
}

// fillMessage sets every field of m, the first member of each oneof, down
// to a few levels; an Any gets a Timestamp, which protojson can resolve.
func fillMessage(m protoreflect.Message, depth int) {
	if m.Descriptor().FullName() == "google.protobuf.Any" {
		raw, _ := proto.Marshal(timestamppb.New(time.Unix(7, 7)))
		fields := m.Descriptor().Fields()
		m.Set(fields.ByName("type_url"), protoreflect.ValueOfString("type.googleapis.com/google.protobuf.Timestamp"))
		m.Set(fields.ByName("value"), protoreflect.ValueOfBytes(raw))
		return
	}
	if depth > 4 {
		return
	}
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if o := fd.ContainingOneof(); o != nil && m.WhichOneof(o) != nil {
			continue
		}
		setField(m, fd, depth)
	}
}

// scalar is a valid, non-default value of a scalar field. Strings are an
// IP address, which every string field accepts.
func scalar(fd protoreflect.FieldDescriptor) any {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return true
	case protoreflect.EnumKind:
		values := fd.Enum().Values()
		for i := range values.Len() {
			if n := values.Get(i).Number(); n != 0 {
				return n
			}
		}
		return values.Get(0).Number()
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return int32(7)
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return int64(7)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return uint32(7)
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return uint64(7)
	case protoreflect.FloatKind:
		return float32(1.5)
	case protoreflect.DoubleKind:
		return 1.5
	case protoreflect.StringKind:
		return "10.0.0.7"
	case protoreflect.BytesKind:
		return []byte{7}
	}
	panic("unhandled kind " + fd.Kind().String())
}

func jsonLine(t *testing.T, m proto.Message, protoNames bool) []byte {
	t.Helper()
	b, err := protojson.MarshalOptions{UseProtoNames: protoNames}.Marshal(m)
	if err != nil {
		t.Fatalf("protojson: %v", err)
	}
	// protojson randomises its whitespace; a record is one compact line.
	var compact bytes.Buffer
	if err := json.Compact(&compact, b); err != nil {
		t.Fatal(err)
	}
	return compact.Bytes()
}

func wireBytes(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decodeJSON(line []byte) outcome {
	var rec observe.Record
	if err := NewDecoder().Decode(line, &rec); err != nil {
		return outcome{err: err.Error()}
	}
	return outcome{rec: rec}
}

func decodeWire(data []byte) outcome {
	var rec observe.Record
	if err := wire.NewDecoder().Decode(data, &rec); err != nil {
		return outcome{err: err.Error()}
	}
	return outcome{rec: rec}
}

// switchCases returns the string cases of the switches on
// string(s.fold(key)) in function fn of file: the keys that function
// handles at its own level (nested objects switch on k).
func switchCases(t *testing.T, file, fn string) []string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var cases []string
	for _, decl := range f.Decls {
		fd, ok := decl.(*ast.FuncDecl)
		if !ok || fd.Name.Name != fn {
			continue
		}
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			sw, ok := n.(*ast.SwitchStmt)
			if !ok || sw.Tag == nil {
				return true
			}
			var tag strings.Builder
			printer.Fprint(&tag, fset, sw.Tag)
			if tag.String() != "string(s.fold(key))" {
				return true
			}
			for _, stmt := range sw.Body.List {
				for _, e := range stmt.(*ast.CaseClause).List {
					if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						s, _ := strconv.Unquote(lit.Value)
						cases = append(cases, s)
					}
				}
			}
			return true
		})
	}
	if len(cases) == 0 {
		t.Fatalf("found no switch on string(s.fold(key)) in %s of %s", fn, file)
	}
	return cases
}
