package replay

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	observerpb "github.com/cilium/cilium/api/v1/observer"
	relaypb "github.com/cilium/cilium/api/v1/relay"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/netpolgen/netpolgen/internal/capturetest"
	"github.com/netpolgen/netpolgen/internal/sharedflows"
)

// testFlow is a small flow for captures written by tests.
func testFlow(t0 time.Time, i int, ns, pod string, verdict flowpb.Verdict) *observerpb.GetFlowsResponse {
	ts := timestamppb.New(t0.Add(time.Duration(i) * time.Second))
	return &observerpb.GetFlowsResponse{
		NodeName: "node-" + string(rune('a'+i%2)),
		Time:     ts,
		ResponseTypes: &observerpb.GetFlowsResponse_Flow{Flow: &flowpb.Flow{
			Time:     ts,
			NodeName: "node-" + string(rune('a'+i%2)),
			Verdict:  verdict,
			Source: &flowpb.Endpoint{Namespace: ns, PodName: pod, Labels: []string{
				"k8s:app=" + strings.SplitN(pod, "-", 2)[0], "k8s:io.kubernetes.pod.namespace=" + ns,
			}},
			Destination: &flowpb.Endpoint{Labels: []string{"reserved:world"}},
			L4:          &flowpb.Layer4{Protocol: &flowpb.Layer4_TCP{TCP: &flowpb.TCP{SourcePort: uint32(40000 + i), DestinationPort: 443}}},
		}},
	}
}

// sampleCapture is ten flows one second apart: even ones from namespace
// shop (pods cart-*), odd ones from namespace web (pods front-*), every
// third one dropped.
func sampleCapture(t *testing.T) (string, []*observerpb.GetFlowsResponse) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var resps []*observerpb.GetFlowsResponse
	for i := 0; i < 10; i++ {
		ns, pod := "shop", "cart-7d9f"
		if i%2 == 1 {
			ns, pod = "web", "front-5c4b"
		}
		verdict := flowpb.Verdict_FORWARDED
		if i%3 == 0 {
			verdict = flowpb.Verdict_DROPPED
		}
		resps = append(resps, testFlow(t0, i, ns, pod, verdict))
	}
	return capturetest.Write(t, resps), resps
}

// startServer serves a capture on a loopback port and returns a stock
// client for it.
func startServer(t *testing.T, path string, opts Options) observerpb.ObserverClient {
	t.Helper()
	_, addr := serveCapture(t, path, opts)
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return observerpb.NewObserverClient(conn)
}

// collect reads a GetFlows stream to its end, or until want responses
// arrived when following.
func collect(t *testing.T, client observerpb.ObserverClient, req *observerpb.GetFlowsRequest, want int) ([]*observerpb.GetFlowsResponse, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := client.GetFlows(ctx, req)
	if err != nil {
		return nil, err
	}
	var got []*observerpb.GetFlowsResponse
	for {
		if req.GetFollow() && want > 0 && len(got) == want {
			return got, nil
		}
		r, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return got, nil
		}
		if err != nil {
			return got, err
		}
		got = append(got, r)
	}
}

func TestGetFlowsRequests(t *testing.T) {
	path, all := sampleCapture(t)
	client := startServer(t, path, Options{})
	at := func(i int) *timestamppb.Timestamp { return all[i].GetTime() }
	tests := []struct {
		name string
		req  *observerpb.GetFlowsRequest
		want []int // indexes into the capture, in order
	}{
		{name: "everything", req: &observerpb.GetFlowsRequest{}, want: []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{name: "last 3", req: &observerpb.GetFlowsRequest{Number: 3}, want: []int{7, 8, 9}},
		{name: "first 2", req: &observerpb.GetFlowsRequest{Number: 2, First: true}, want: []int{0, 1}},
		{name: "since", req: &observerpb.GetFlowsRequest{Since: at(7)}, want: []int{7, 8, 9}},
		{name: "until", req: &observerpb.GetFlowsRequest{Until: at(2)}, want: []int{0, 1, 2}},
		{name: "since and until", req: &observerpb.GetFlowsRequest{Since: at(3), Until: at(5)}, want: []int{3, 4, 5}},
		{name: "since counts forward with number", req: &observerpb.GetFlowsRequest{Since: at(2), Number: 2}, want: []int{2, 3}},
		{
			name: "namespace as hubble sends it",
			req: &observerpb.GetFlowsRequest{Whitelist: []*flowpb.FlowFilter{
				{SourcePod: []string{"web/"}}, {DestinationPod: []string{"web/"}},
			}},
			want: []int{1, 3, 5, 7, 9},
		},
		{
			name: "pod prefix",
			req:  &observerpb.GetFlowsRequest{Whitelist: []*flowpb.FlowFilter{{SourcePod: []string{"shop/cart-"}}}},
			want: []int{0, 2, 4, 6, 8},
		},
		{
			name: "pod without namespace is in default",
			req:  &observerpb.GetFlowsRequest{Whitelist: []*flowpb.FlowFilter{{SourcePod: []string{"cart-"}}}},
		},
		{
			name: "label",
			req:  &observerpb.GetFlowsRequest{Whitelist: []*flowpb.FlowFilter{{SourceLabel: []string{"k8s:app=front"}}}},
			want: []int{1, 3, 5, 7, 9},
		},
		{
			name: "verdict",
			req:  &observerpb.GetFlowsRequest{Whitelist: []*flowpb.FlowFilter{{Verdict: []flowpb.Verdict{flowpb.Verdict_DROPPED}}}},
			want: []int{0, 3, 6, 9},
		},
		{
			name: "fields of one filter are and-ed",
			req: &observerpb.GetFlowsRequest{Whitelist: []*flowpb.FlowFilter{{
				Verdict: []flowpb.Verdict{flowpb.Verdict_DROPPED}, SourcePod: []string{"web/"},
			}}},
			want: []int{3, 9},
		},
		{
			name: "blacklist",
			req:  &observerpb.GetFlowsRequest{Blacklist: []*flowpb.FlowFilter{{Verdict: []flowpb.Verdict{flowpb.Verdict_FORWARDED}}}},
			want: []int{0, 3, 6, 9},
		},
		{
			name: "last 2 of a whitelist",
			req:  &observerpb.GetFlowsRequest{Number: 2, Whitelist: []*flowpb.FlowFilter{{SourceLabel: []string{"app=cart"}}}},
			want: []int{6, 8},
		},
		{
			name: "node name",
			req:  &observerpb.GetFlowsRequest{Number: 2, Whitelist: []*flowpb.FlowFilter{{NodeName: []string{"node-b"}}}},
			want: []int{7, 9},
		},
		{name: "follow from the start", req: &observerpb.GetFlowsRequest{Follow: true, Since: at(8)}, want: []int{8, 9}},
		{name: "follow with number", req: &observerpb.GetFlowsRequest{Follow: true, Number: 1}, want: []int{9}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := collect(t, client, tt.req, len(tt.want))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d flows, want %d (%v)", len(got), len(tt.want), tt.want)
			}
			for k, i := range tt.want {
				if !proto.Equal(got[k], all[i]) {
					t.Errorf("flow %d: got %v, want capture[%d] %v", k, got[k], i, all[i])
				}
			}
		})
	}
}

func TestGetFlowsRefusesWhatItCannotServe(t *testing.T) {
	path, _ := sampleCapture(t)
	client := startServer(t, path, Options{})
	tests := []struct {
		name string
		req  *observerpb.GetFlowsRequest
		want string
	}{
		{name: "first with follow", req: &observerpb.GetFlowsRequest{First: true, Follow: true}, want: "first cannot be specified with follow"},
		{name: "bad field mask", req: &observerpb.GetFlowsRequest{FieldMask: &fieldmaskpb.FieldMask{Paths: []string{"source.nope"}}}, want: "invalid field mask"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := collect(t, client, tt.req, 0)
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want InvalidArgument mentioning %q", err, tt.want)
			}
		})
	}
}

func TestPacedLoopKeepsTimeIncreasing(t *testing.T) {
	path, all := sampleCapture(t)
	client := startServer(t, path, Options{Rate: 400, Loop: true})
	start := time.Now()
	got, err := collect(t, client, &observerpb.GetFlowsRequest{Follow: true, Since: all[0].GetTime()}, 25)
	if err != nil {
		t.Fatal(err)
	}
	// 25 events at 400/s take at least 60ms to be released.
	if elapsed := time.Since(start); elapsed < 50*time.Millisecond {
		t.Errorf("25 paced events arrived in %v: pacing is not applied", elapsed)
	}
	for k := 1; k < len(got); k++ {
		prev, cur := got[k-1].GetTime().AsTime(), got[k].GetTime().AsTime()
		if !cur.After(prev) {
			t.Fatalf("event %d at %v is not after event %d at %v", k, cur, k-1, prev)
		}
		if !cur.Equal(got[k].GetFlow().GetTime().AsTime()) {
			t.Fatalf("event %d: envelope and flow times differ after the loop shift", k)
		}
	}
	// Round two is round one with only the times changed.
	second := proto.Clone(got[12]).(*observerpb.GetFlowsResponse)
	second.Time, second.GetFlow().Time = all[2].GetTime(), all[2].GetFlow().GetTime()
	if !proto.Equal(second, all[2]) {
		t.Errorf("looped event differs from the original beyond its time:\n%v\n%v", second, all[2])
	}
}

func TestStatusAndNodes(t *testing.T) {
	path, _ := sampleCapture(t)
	client := startServer(t, path, Options{})
	ctx := context.Background()
	st, err := client.ServerStatus(ctx, &observerpb.ServerStatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if st.GetNumFlows() != 10 || st.GetSeenFlows() != 10 || st.GetNumConnectedNodes().GetValue() != 2 {
		t.Errorf("status %v: want 10 flows seen and held, 2 nodes", st)
	}
	nodes, err := client.GetNodes(ctx, &observerpb.GetNodesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range nodes.GetNodes() {
		names = append(names, n.GetName())
	}
	if strings.Join(names, ",") != "node-a,node-b" {
		t.Errorf("nodes %v, want node-a,node-b", names)
	}
}

func TestLoadCaptureFormats(t *testing.T) {
	legacy := sharedflows.Path(t, "multiubuntu-gke/flows-template-verbose.json")
	c, err := LoadCapture(legacy)
	if err != nil {
		t.Fatal(err)
	}
	if c.FlowCount() != 16 || len(c.Nodes) == 0 {
		t.Errorf("legacy array: %d flows, nodes %v; want 16 flows and their nodes", c.FlowCount(), c.Nodes)
	}
	for _, ev := range c.Events {
		if !ev.Time.Equal(ev.Resp.GetFlow().GetTime().AsTime()) || ev.Resp.GetNodeName() != ev.Resp.GetFlow().GetNodeName() {
			t.Fatalf("a bare flow must be wrapped with its own time and node: %v", ev.Resp)
		}
	}

	path, resps := sampleCapture(t)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(data)
	zw.Close()
	gzPath := filepath.Join(t.TempDir(), "capture.json.gz")
	if err := os.WriteFile(gzPath, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err = LoadCapture(gzPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Events) != len(resps) || !proto.Equal(c.Events[3].Resp, resps[3]) {
		t.Errorf("gzip capture: %d events, want %d, as written", len(c.Events), len(resps))
	}
}

func TestNoticesPassFilters(t *testing.T) {
	_, all := sampleCapture(t)
	notices := []*observerpb.GetFlowsResponse{
		{Time: all[4].GetTime(), ResponseTypes: &observerpb.GetFlowsResponse_LostEvents{LostEvents: &flowpb.LostEvent{NumEventsLost: 3}}},
		{Time: all[5].GetTime(), ResponseTypes: &observerpb.GetFlowsResponse_NodeStatus{NodeStatus: &relaypb.NodeStatusEvent{
			StateChange: relaypb.NodeState_NODE_UNAVAILABLE, NodeNames: []string{"node-c"},
		}}},
	}
	path := capturetest.Write(t, append(append([]*observerpb.GetFlowsResponse{}, all...), notices...))
	client := startServer(t, path, Options{})
	got, err := collect(t, client, &observerpb.GetFlowsRequest{
		Whitelist: []*flowpb.FlowFilter{{Verdict: []flowpb.Verdict{flowpb.Verdict_DROPPED}}},
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var flows, lost, nodes int
	for _, r := range got {
		switch {
		case r.GetFlow() != nil:
			flows++
		case r.GetLostEvents() != nil:
			lost++
		case r.GetNodeStatus() != nil:
			nodes++
		}
	}
	if flows != 4 || lost != 1 || nodes != 1 {
		t.Errorf("got %d flows, %d lost notices, %d node notices; want the 4 dropped flows and both notices", flows, lost, nodes)
	}
}

func TestFieldMask(t *testing.T) {
	path, all := sampleCapture(t)
	client := startServer(t, path, Options{})
	got, err := collect(t, client, &observerpb.GetFlowsRequest{
		Number:    2,
		FieldMask: &fieldmaskpb.FieldMask{Paths: []string{"time", "verdict", "source.namespace", "source", "l4.TCP.destination_port", "destination.labels"}},
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d flows, want 2", len(got))
	}
	for k, r := range got {
		src := all[8+k]
		want := &observerpb.GetFlowsResponse{
			NodeName: src.GetNodeName(), Time: src.GetTime(),
			ResponseTypes: &observerpb.GetFlowsResponse_Flow{Flow: &flowpb.Flow{
				Time:        src.GetFlow().GetTime(),
				Verdict:     src.GetFlow().GetVerdict(),
				Source:      src.GetFlow().GetSource(), // "source" keeps it whole
				L4:          &flowpb.Layer4{Protocol: &flowpb.Layer4_TCP{TCP: &flowpb.TCP{DestinationPort: src.GetFlow().GetL4().GetTCP().GetDestinationPort()}}},
				Destination: &flowpb.Endpoint{Labels: src.GetFlow().GetDestination().GetLabels()},
			}},
		}
		if !proto.Equal(r, want) {
			t.Errorf("flow %d:\ngot  %v\nwant %v", k, r, want)
		}
	}
}
