// Package observetest holds the references the flow decoders are held
// to in tests: the slow, obviously correct decoding through Cilium's
// generated messages and observe.FromProto, and the shared captures.
package observetest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	observerpb "github.com/cilium/cilium/api/v1/observer"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/netpolgen/netpolgen/internal/sharedflows"
	"github.com/netpolgen/netpolgen/pkg/observe"
)

// FlowCmp compares decoded flows: addresses by value, nil and empty alike.
func FlowCmp() []cmp.Option {
	return []cmp.Option{cmpopts.EquateComparable(netip.Addr{}), cmpopts.EquateEmpty()}
}

// ReferenceJSON decodes one JSON record the slow, obviously correct way:
// protojson into the generated message, then FromProto.
func ReferenceJSON(line []byte) (observe.Record, error) {
	opts := protojson.UnmarshalOptions{DiscardUnknown: true}
	var ev observerpb.ExportEvent
	if err := opts.Unmarshal(line, &ev); err == nil && (ev.GetFlow() != nil || ev.GetLostEvents() != nil || ev.GetNodeStatus() != nil || ev.GetAgentEvent() != nil || ev.GetDebugEvent() != nil) {
		rec, ok := fromEnvelope(&ev)
		switch {
		case ok: // a flow or a lost-events notice
		case ev.GetNodeStatus() != nil:
			rec.Kind = observe.KindNodeStatus
		case ev.GetAgentEvent() != nil:
			rec.Kind = observe.KindAgentEvent
		case ev.GetDebugEvent() != nil:
			rec.Kind = observe.KindDebugEvent
		}
		return rec, nil
	}
	var f flowpb.Flow
	if err := opts.Unmarshal(line, &f); err != nil {
		return observe.Record{}, err
	}
	return observe.Record{Kind: observe.KindFlow, Flow: observe.FromProto(&f)}, nil
}

// SharedResponses loads every record of the shared captures as a generated
// GetFlowsResponse: the bookinfo jsonpb lines as they are and the legacy
// multiubuntu array's bare flows wrapped in a response.
func SharedResponses(tb testing.TB) (names []string, resps []*observerpb.GetFlowsResponse) {
	tb.Helper()
	dir := sharedflows.Dir(tb)
	opts := protojson.UnmarshalOptions{DiscardUnknown: true}
	files, _ := filepath.Glob(filepath.Join(dir, "bookinfo-kind", "*.json"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			tb.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		for n := 1; sc.Scan(); n++ {
			var r observerpb.GetFlowsResponse
			if err := opts.Unmarshal(sc.Bytes(), &r); err != nil {
				tb.Fatalf("%s:%d: %v", file, n, err)
			}
			names = append(names, filepath.Base(file)+":"+itoa(n))
			resps = append(resps, &r)
		}
	}
	legacy := filepath.Join(dir, "multiubuntu-gke", "flows-template-verbose.json")
	if data, err := os.ReadFile(legacy); err == nil {
		var raws []json.RawMessage
		if err := json.Unmarshal(data, &raws); err != nil {
			tb.Fatalf("%s: %v", legacy, err)
		}
		for i, raw := range raws {
			var f flowpb.Flow
			if err := opts.Unmarshal(raw, &f); err != nil {
				tb.Fatalf("%s[%d]: %v", legacy, i, err)
			}
			names = append(names, filepath.Base(legacy)+"["+itoa(i)+"]")
			resps = append(resps, &observerpb.GetFlowsResponse{ResponseTypes: &observerpb.GetFlowsResponse_Flow{Flow: &f}})
		}
	}
	if len(resps) == 0 {
		tb.Skipf("no shared captures in %s", dir)
	}
	return names, resps
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// ReferenceResponse is what a decoder must produce for a response:
// FromProto's Flow, with the envelope's node and time as fallbacks.
func ReferenceResponse(r *observerpb.GetFlowsResponse) observe.Record {
	rec, ok := fromEnvelope(r)
	switch {
	case ok: // a flow or a lost-events notice
	case r.GetNodeStatus() != nil:
		rec.Kind = observe.KindNodeStatus
	case len(r.ProtoReflect().GetUnknown()) > 0 && (r.GetNodeName() != "" || r.GetTime() != nil):
		// Only fields this API lacks, beside the envelope: an event kind
		// a newer Hubble added.
		rec.Kind = observe.KindUnknownEvent
	}
	return rec
}

// envelope is what ExportEvent and GetFlowsResponse share: a flow or a
// lost-events notice, and the node and time around it.
type envelope interface {
	GetFlow() *flowpb.Flow
	GetLostEvents() *flowpb.LostEvent
	GetNodeName() string
	GetTime() *timestamppb.Timestamp
}

// fromEnvelope is the flow or lost-events notice an envelope holds, with
// the envelope's node and time as fallbacks; false when it holds neither.
func fromEnvelope(ev envelope) (observe.Record, bool) {
	var rec observe.Record
	switch {
	case ev.GetFlow() != nil:
		rec.Kind, rec.Flow = observe.KindFlow, observe.FromProto(ev.GetFlow())
		if rec.Flow.NodeName == "" {
			rec.Flow.NodeName = ev.GetNodeName()
		}
		if rec.Flow.Time.IsZero() && ev.GetTime() != nil {
			rec.Flow.Time = ev.GetTime().AsTime()
		}
	case ev.GetLostEvents() != nil:
		rec.Kind, rec.Lost = observe.KindLostEvents, observe.LostFromProto(ev.GetLostEvents())
		rec.Lost.NodeName = ev.GetNodeName()
		if ev.GetTime() != nil {
			rec.Lost.Time = ev.GetTime().AsTime()
		}
	default:
		return rec, false
	}
	return rec, true
}
