package wire

import (
	"errors"
	"testing"
	"time"

	"github.com/netpolgen/netpolgen/internal/observetest"
	"github.com/netpolgen/netpolgen/pkg/observe"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	observerpb "github.com/cilium/cilium/api/v1/observer"
	relaypb "github.com/cilium/cilium/api/v1/relay"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func TestWireDecodeMatchesFromProtoOnSharedCaptures(t *testing.T) {
	names, resps := observetest.SharedResponses(t)
	wireMatchesFromProto(t, names, resps)
}

func wireMatchesFromProto(t *testing.T, names []string, resps []*observerpb.GetFlowsResponse) {
	t.Helper()
	dec := NewDecoder()
	var got observe.Record
	for i, r := range resps {
		data, err := proto.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if err := dec.Decode(data, &got); err != nil {
			t.Fatalf("%s: %v", names[i], err)
		}
		if diff := cmp.Diff(observetest.ReferenceResponse(r), got, observetest.FlowCmp()...); diff != "" {
			t.Fatalf("%s: wire decode differs from FromProto (-want +got):\n%s", names[i], diff)
		}
	}
}

func TestWireDecodeEvents(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	tests := []struct {
		name string
		resp *observerpb.GetFlowsResponse
		node observe.NodeStatus
	}{
		{
			name: "lost events with cpu",
			resp: &observerpb.GetFlowsResponse{
				NodeName: "n1", Time: timestamppb.New(t0),
				ResponseTypes: &observerpb.GetFlowsResponse_LostEvents{LostEvents: &flowpb.LostEvent{
					Source: flowpb.LostEventSource_HUBBLE_RING_BUFFER, NumEventsLost: 42,
					Cpu: wrapperspb.Int32(3), First: timestamppb.New(t0.Add(-time.Second)), Last: timestamppb.New(t0),
				}},
			},
		},
		{
			name: "lost events without cpu",
			resp: &observerpb.GetFlowsResponse{ResponseTypes: &observerpb.GetFlowsResponse_LostEvents{LostEvents: &flowpb.LostEvent{
				Source: flowpb.LostEventSource_PERF_EVENT_RING_BUFFER, NumEventsLost: 1,
			}}},
		},
		{
			name: "node unavailable",
			resp: &observerpb.GetFlowsResponse{ResponseTypes: &observerpb.GetFlowsResponse_NodeStatus{NodeStatus: &relaypb.NodeStatusEvent{
				StateChange: relaypb.NodeState_NODE_UNAVAILABLE, NodeNames: []string{"a", "b"}, Message: "connection refused",
			}}},
			node: observe.NodeStatus{State: relaypb.NodeState_NODE_UNAVAILABLE, NodeNames: []string{"a", "b"}, Message: "connection refused"},
		},
		{
			name: "flow time and node from the envelope",
			resp: &observerpb.GetFlowsResponse{
				NodeName: "n2", Time: timestamppb.New(t0),
				ResponseTypes: &observerpb.GetFlowsResponse_Flow{Flow: &flowpb.Flow{
					Verdict: flowpb.Verdict_DROPPED, DropReasonDesc: flowpb.DropReason_POLICY_DENIED,
					IsReply: wrapperspb.Bool(true),
					L4:      &flowpb.Layer4{Protocol: &flowpb.Layer4_SCTP{SCTP: &flowpb.SCTP{SourcePort: 1, DestinationPort: 2}}},
					L7: &flowpb.Layer7{Type: flowpb.L7FlowType_REQUEST, Record: &flowpb.Layer7_Dns{Dns: &flowpb.DNS{
						Query: "x.", Ips: []string{"1.2.3.4", "bogus", "::1"}, Cnames: []string{"y."}, Qtypes: []string{"A"}, Rcode: 3, Ttl: 9,
					}}},
				}},
			},
		},
		{
			name: "kafka is named, not decoded",
			resp: &observerpb.GetFlowsResponse{ResponseTypes: &observerpb.GetFlowsResponse_Flow{Flow: &flowpb.Flow{
				L7: &flowpb.Layer7{Record: &flowpb.Layer7_Kafka{Kafka: &flowpb.Kafka{Topic: "t"}}},
				L4: &flowpb.Layer4{Protocol: &flowpb.Layer4_ICMPv6{ICMPv6: &flowpb.ICMPv6{Type: 128, Code: 1}}},
			}}},
		},
	}
	dec := NewDecoder()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := proto.Marshal(tt.resp)
			if err != nil {
				t.Fatal(err)
			}
			var got observe.Record
			if err := dec.Decode(data, &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(observetest.ReferenceResponse(tt.resp), got, observetest.FlowCmp()...); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if got.Kind == observe.KindNodeStatus {
				if diff := cmp.Diff(tt.node, dec.Node); diff != "" {
					t.Errorf("node status (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestWireDecodeRejectsBrokenMessages(t *testing.T) {
	good, err := proto.Marshal(&observerpb.GetFlowsResponse{ResponseTypes: &observerpb.GetFlowsResponse_Flow{Flow: &flowpb.Flow{
		NodeName: "n", Source: &flowpb.Endpoint{Namespace: "ns", Labels: []string{"k8s:a=b"}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		data  []byte
		empty bool
	}{
		{name: "truncated", data: good[:len(good)-3]},
		{name: "length past the end", data: []byte{0x0a, 0x7f, 0x01}},
		{name: "bad tag", data: []byte{0x00}},
		{name: "empty", data: nil, empty: true},
		{name: "only the envelope", data: []byte{0xc2, 0x3e, 0x01, 'n'}, empty: true},
	}
	dec := NewDecoder()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec observe.Record
			err := dec.Decode(tt.data, &rec)
			if err == nil {
				t.Fatal("decoded a broken message without error")
			}
			if tt.empty != errors.Is(err, ErrEmptyResponse) {
				t.Errorf("error %v: want ErrEmptyResponse %v", err, tt.empty)
			}
		})
	}
}

// FuzzWireDecode checks that no input makes the wire decoder panic, and
// that whenever the generated code accepts a message the two agree.
// BenchmarkWireDecode decodes the shared captures' marshalled responses,
// beside proto.Unmarshal plus FromProto, the stock path it replaces.
func BenchmarkWireDecode(b *testing.B) {
	_, resps := observetest.SharedResponses(b)
	wires := make([][]byte, len(resps))
	for i, r := range resps {
		wires[i], _ = proto.Marshal(r)
	}
	b.Run("netpolgen", func(b *testing.B) {
		dec := NewDecoder()
		var rec observe.Record
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if err := dec.Decode(wires[i%len(wires)], &rec); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("stock", func(b *testing.B) {
		var sink observe.Flow
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			var r observerpb.GetFlowsResponse
			if err := proto.Unmarshal(wires[i%len(wires)], &r); err != nil {
				b.Fatal(err)
			}
			sink = observe.FromProto(r.GetFlow())
		}
		_ = sink
	})
}

// TestWireDecodeSplitLabelRuns: labels and workloads are shared among pods
// by the bytes of their run of fields. An endpoint whose labels come in
// two runs (legal protobuf, if no encoder writes it) still decodes like
// FromProto, and extending the first run never changes the slice another
// pod shares.
func TestWireDecodeSplitLabelRuns(t *testing.T) {
	wire := func(ep *flowpb.Endpoint) []byte {
		b, err := proto.Marshal(&observerpb.GetFlowsResponse{ResponseTypes: &observerpb.GetFlowsResponse_Flow{Flow: &flowpb.Flow{Source: ep}}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	workloads := []*flowpb.Workload{{Name: "api", Kind: "Deployment"}}
	plain := &flowpb.Endpoint{ID: 1, Identity: 7, Namespace: "shop", PodName: "api-1", Labels: []string{"k8s:app=api", "k8s:team=shop", "k8s:tier=backend"}, Workloads: workloads}
	// Other pods' labels: the same first run, then the pod name, then
	// one more label field of their own.
	split := func(id uint64, pod, extra string) []byte {
		var ep []byte
		ep = protowire.AppendTag(ep, 1, protowire.VarintType)
		ep = protowire.AppendVarint(ep, id)
		for _, l := range plain.Labels {
			ep = protowire.AppendTag(ep, 4, protowire.BytesType)
			ep = protowire.AppendString(ep, l)
		}
		ep = protowire.AppendTag(ep, 5, protowire.BytesType)
		ep = protowire.AppendString(ep, pod)
		ep = protowire.AppendTag(ep, 4, protowire.BytesType)
		ep = protowire.AppendString(ep, extra)
		var flow, resp []byte
		flow = protowire.AppendTag(flow, 8, protowire.BytesType)
		flow = protowire.AppendBytes(flow, ep)
		resp = protowire.AppendTag(resp, 1, protowire.BytesType)
		return protowire.AppendBytes(resp, flow)
	}
	canary, stable := split(2, "api-2", "k8s:track=canary"), split(3, "api-3", "k8s:track=stable")

	dec := NewDecoder()
	var first, second, third, again observe.Record
	for _, step := range []struct {
		data []byte
		rec  *observe.Record
	}{{wire(plain), &first}, {canary, &second}, {stable, &third}, {wire(plain), &again}} {
		if err := dec.Decode(step.data, step.rec); err != nil {
			t.Fatal(err)
		}
	}
	for name, c := range map[string]struct {
		data []byte
		rec  *observe.Record
	}{"canary": {canary, &second}, "stable": {stable, &third}} {
		var resp observerpb.GetFlowsResponse
		if err := proto.Unmarshal(c.data, &resp); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(observe.FromProto(resp.GetFlow()).Source, c.rec.Flow.Source); diff != "" {
			t.Errorf("%s: split runs decode differently from FromProto (-want +got):\n%s", name, diff)
		}
	}
	want := []string{"k8s:app=api", "k8s:team=shop", "k8s:tier=backend"}
	for name, rec := range map[string]*observe.Record{"first": &first, "again": &again} {
		if diff := cmp.Diff(want, rec.Flow.Source.Labels); diff != "" {
			t.Errorf("%s pod's shared labels changed (-want +got):\n%s", name, diff)
		}
	}
	if &first.Flow.Source.Labels[0] != &again.Flow.Source.Labels[0] {
		t.Error("the same label run was decoded twice instead of shared")
	}
}
