package capture

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netpolgen/netpolgen/internal/observetest"
	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/observe/wire"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	observerpb "github.com/cilium/cilium/api/v1/observer"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// richRecords are messages with every field set (the first member of
// each oneof), so unknown keys land beside every known one.
func richRecords() []proto.Message {
	withFlow := &observerpb.GetFlowsResponse{}
	fillMessage(withFlow.ProtoReflect(), 0) // the oneof's first member: flow
	lost := &observerpb.GetFlowsResponse{ResponseTypes: &observerpb.GetFlowsResponse_LostEvents{LostEvents: &flowpb.LostEvent{}}}
	fillMessage(lost.ProtoReflect().Get(lost.ProtoReflect().Descriptor().Fields().ByName("lost_events")).Message(), 1)
	lost.NodeName = "node-1"
	// A second flow with the other oneof members of Layer4 and Layer7.
	other := proto.Clone(withFlow).(*observerpb.GetFlowsResponse)
	other.GetFlow().L4 = &flowpb.Layer4{Protocol: &flowpb.Layer4_UDP{UDP: &flowpb.UDP{SourcePort: 53, DestinationPort: 5353}}}
	other.GetFlow().L7 = &flowpb.Layer7{Record: &flowpb.Layer7_Http{Http: &flowpb.HTTP{Code: 200, Method: "GET", Url: "/x",
		Headers: []*flowpb.HTTPHeader{{Key: "k", Value: "v"}}}}}
	return []proto.Message{withFlow, lost, other}
}

// unknownJSON is a value of the shape a newer Hubble might add anywhere.
const unknownJSON = `{"a":[1,"x",{"b":null,"c":[[]]}],"d":-1.5e3,"e":true,"f":"\u00e9"}`

// injectUnknown adds unknown keys, in both spellings, to every object of
// a JSON document.
func injectUnknown(t *testing.T, line []byte) []byte {
	t.Helper()
	var doc any
	if err := json.Unmarshal(line, &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for _, c := range v {
				walk(c)
			}
			v["futureObject"] = json.RawMessage(unknownJSON)
			v["future_scalar"] = 42
			v["futureList"] = []any{unknownJSON, nil}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(doc)
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestJSONSkipsUnknownKeysAtEveryLevel(t *testing.T) {
	records := richRecords()
	bare := &flowpb.Flow{}
	fillMessage(bare.ProtoReflect(), 1)
	records = append(records, bare)
	for i, m := range records {
		for _, protoNames := range []bool{false, true} {
			line := jsonLine(t, m, protoNames)
			want, err := observetest.ReferenceJSON(line)
			if err != nil {
				t.Fatal(err)
			}
			future := injectUnknown(t, line)
			if strings.Count(string(future), "futureObject") < 10 && i != 1 {
				t.Fatalf("record %d: the injection reached only a few objects: %s", i, future)
			}
			var got observe.Record
			if err := NewDecoder().Decode(future, &got); err != nil {
				t.Fatalf("record %d with unknown keys: %v\n%s", i, err, future)
			}
			if diff := cmp.Diff(want, got, decodeCmp()...); diff != "" {
				t.Errorf("record %d: unknown keys changed the record (-want +got):\n%s\n%s", i, diff, future)
			}
		}
	}
}

// unknownFields are protobuf fields of numbers no Hubble message uses, of
// every wire type, a nested message and a group among them.
func unknownFields() []byte {
	var nested []byte
	nested = protowire.AppendTag(nested, 1, protowire.VarintType)
	nested = protowire.AppendVarint(nested, 3)
	nested = protowire.AppendTag(nested, 2, protowire.BytesType)
	nested = protowire.AppendString(nested, "x")
	var b []byte
	b = protowire.AppendTag(b, 900, protowire.VarintType)
	b = protowire.AppendVarint(b, 1<<40)
	b = protowire.AppendTag(b, 901, protowire.Fixed32Type)
	b = protowire.AppendFixed32(b, 7)
	b = protowire.AppendTag(b, 902, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, 7)
	b = protowire.AppendTag(b, 903, protowire.BytesType)
	b = protowire.AppendBytes(b, nested)
	b = protowire.AppendTag(b, 904, protowire.StartGroupType)
	b = append(b, nested...)
	b = protowire.AppendTag(b, 904, protowire.EndGroupType)
	b = protowire.AppendTag(b, 30000, protowire.BytesType)
	b = protowire.AppendString(b, "a field from the future")
	return b
}

// addUnknown appends unknownFields to m and every message below it.
func addUnknown(m protoreflect.Message) int {
	n := 1
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			for i := range v.List().Len() {
				n += addUnknown(v.List().Get(i).Message())
			}
		case fd.Message() != nil && !fd.IsMap():
			n += addUnknown(v.Message())
		}
		return true
	})
	m.SetUnknown(append(m.GetUnknown(), unknownFields()...))
	return n
}

func TestWireSkipsUnknownFieldsAtEveryLevel(t *testing.T) {
	for i, m := range richRecords() {
		resp := m.(*observerpb.GetFlowsResponse)
		want := observetest.ReferenceResponse(resp)
		future := proto.Clone(resp)
		if n := addUnknown(future.ProtoReflect()); n < 3 {
			t.Fatalf("record %d: unknown fields went into only %d messages", i, n)
		}
		data := wireBytes(t, future)
		if plain := wireBytes(t, resp); len(data) <= len(plain) {
			t.Fatal("the unknown fields were not marshalled")
		}
		var got observe.Record
		if err := wire.NewDecoder().Decode(data, &got); err != nil {
			t.Fatalf("record %d with unknown fields: %v", i, err)
		}
		if diff := cmp.Diff(want, got, decodeCmp()...); diff != "" {
			t.Errorf("record %d: unknown fields changed the record (-want +got):\n%s", i, diff)
		}
	}
}

// TestUnknownEventKindIsSkippedNotMalformed: a response holding only an
// event kind this netpolgen does not know, beside the envelope, is
// skipped and counted; an object that is no Hubble record at all is
// still malformed.
func TestUnknownEventKindIsSkippedNotMalformed(t *testing.T) {
	var rec observe.Record
	futureJSON := `{"future_event":` + unknownJSON + `,"node_name":"node-1","time":"2026-01-05T08:00:00Z"}`
	if err := NewDecoder().Decode([]byte(futureJSON), &rec); err != nil || rec.Kind != observe.KindUnknownEvent {
		t.Errorf("JSON: got %v, %v; want %v", rec.Kind, err, observe.KindUnknownEvent)
	}
	for _, notHubble := range []string{`{"apiVersion":"v1","kind":"List"}`, `{}`, `{"node_name":"n"}`} {
		if err := NewDecoder().Decode([]byte(notHubble), &rec); !errors.Is(err, ErrNotARecord) {
			t.Errorf("JSON %s: got %v, want ErrNotARecord", notHubble, err)
		}
	}

	var data []byte
	data = protowire.AppendTag(data, 4, protowire.BytesType) // an event kind GetFlowsResponse lacks today
	data = protowire.AppendBytes(data, unknownFields())
	data = protowire.AppendTag(data, 1000, protowire.BytesType)
	data = protowire.AppendString(data, "node-1")
	if err := wire.NewDecoder().Decode(data, &rec); err != nil || rec.Kind != observe.KindUnknownEvent {
		t.Errorf("wire: got %v, %v; want %v", rec.Kind, err, observe.KindUnknownEvent)
	}
	if err := wire.NewDecoder().Decode(data[:len(data)-len("node-1")-3], &rec); !errors.Is(err, wire.ErrEmptyResponse) {
		t.Errorf("wire without an envelope: got %v, want wire.ErrEmptyResponse", err)
	}

	// A strict file read counts the unknown event as skipped and reads
	// the flow with unknown keys beside it.
	flow := jsonLine(t, richRecords()[0], true)
	path := filepath.Join(t.TempDir(), "newer-hubble.json")
	if err := os.WriteFile(path, []byte(futureJSON+"\n"+string(injectUnknown(t, flow))+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := NewSource([]string{path}, Options{Strict: true})
	defer src.Close()
	flows := 0
	for {
		r, err := src.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("strict read of a newer Hubble's records: %v", err)
		}
		if r.Kind == observe.KindFlow {
			flows++
		}
	}
	if st := src.Stats(); flows != 1 || st.Malformed != 0 || st.Skipped[observe.KindUnknownEvent] != 1 {
		t.Errorf("flows %d, stats %+v; want 1 flow, 1 skipped unknown event, none malformed", flows, st)
	}
}

// TestJSONReadsUnknownEnumNames: a newer Hubble's enum value (a verdict,
// a drop reason) reads as unknown (0) instead of failing the record.
func TestJSONReadsUnknownEnumNames(t *testing.T) {
	line := `{"flow":{"verdict":"VERDICT_FROM_THE_FUTURE","drop_reason_desc":"NEW_REASON","Type":"L9","traffic_direction":"SIDEWAYS",` +
		`"IP":{"source":"10.0.0.1","destination":"10.0.0.2","ipVersion":"IPv7"},"source":{"namespace":"shop"}},"node_name":"n"}`
	var rec observe.Record
	if err := NewDecoder().Decode([]byte(line), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Kind != observe.KindFlow || rec.Flow.Verdict != 0 || rec.Flow.Source.Namespace != "shop" || rec.Flow.NodeName != "n" || !rec.Flow.DstIP.IsValid() {
		t.Errorf("got %+v", rec)
	}
}
