package drift

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	observerpb "github.com/cilium/cilium/api/v1/observer"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/netpolgen/netpolgen/internal/flowgen"
	"github.com/netpolgen/netpolgen/pkg/graph"
	"github.com/netpolgen/netpolgen/pkg/observe/capture"
	"github.com/netpolgen/netpolgen/pkg/synth"
)

// fixture is a baseline capture of the shop scenario, the policies
// learned from it, and the flows of a later change.
type fixture struct {
	dir      string
	baseline []byte // jsonpb lines
	policies string // directory
	end      time.Time
}

// shopBaseline generates 20 minutes of the shop without its denied call
// and without lost events, and learns Cilium policies from it.
func shopBaseline(t *testing.T, format synth.Format) fixture {
	t.Helper()
	sc := flowgen.Shop()
	sc.LostEvents = 0
	sc.Calls = slices.DeleteFunc(sc.Calls, func(c flowgen.Call) bool { return c.Denied })
	var buf bytes.Buffer
	start := flowgen.DefaultStart()
	if _, err := flowgen.Generate(sc, flowgen.Options{Seed: 6, Start: start, Duration: 20 * time.Minute}, &buf); err != nil {
		t.Fatal(err)
	}
	f := fixture{dir: t.TempDir(), baseline: buf.Bytes(), end: start.Add(20 * time.Minute)}
	captured := f.write(t, "baseline.json", f.baseline)
	src := capture.NewSource([]string{captured}, capture.Options{Strict: true})
	defer src.Close()
	g, err := graph.Build(context.Background(), src, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := synth.Build(synth.FromGraph(g), synth.Options{Format: format})
	if err != nil {
		t.Fatal(err)
	}
	files, _, err := plan.Files(format)
	if err != nil {
		t.Fatal(err)
	}
	f.policies = filepath.Join(f.dir, "policies")
	if err := synth.WriteFiles(f.policies, files); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f fixture) write(t *testing.T, name string, data ...[]byte) string {
	t.Helper()
	p := filepath.Join(f.dir, name)
	if err := os.WriteFile(p, bytes.Join(data, nil), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// shopPod is an endpoint of the shop as Hubble describes its pods: with
// the namespace's kubernetes.io/metadata.name label, as flowgen's pods
// (and every pod of Kubernetes 1.21 on) carry it.
func shopPod(ns, pod, workload string, id uint32, lbls ...string) *flowpb.Endpoint {
	all := append([]string{"k8s:io.kubernetes.pod.namespace=" + ns, "k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=" + ns}, lbls...)
	return &flowpb.Endpoint{ID: id, Identity: id, Namespace: ns, PodName: pod, Labels: all,
		Workloads: []*flowpb.Workload{{Name: workload, Kind: "Deployment"}}}
}

var (
	checkoutPod = func() *flowpb.Endpoint {
		return shopPod("shop", "checkout-5f7c9d8b4-x2x9q", "checkout", 51001, "k8s:app.kubernetes.io/name=checkout", "k8s:app.kubernetes.io/part-of=shop")
	}
	cartPod = func() *flowpb.Endpoint {
		return shopPod("shop", "cart-6d8f7b9c5-k2l4m", "cart", 51002, "k8s:app.kubernetes.io/name=cart", "k8s:app.kubernetes.io/part-of=shop")
	}
	debugPod = func() *flowpb.Endpoint {
		return shopPod("shop", "debug-shell-7b5d9c6f8-zz1aa", "debug-shell", 51003, "k8s:run=debug-shell")
	}
	postgresPod = func() *flowpb.Endpoint {
		ep := shopPod("data", "postgres-0", "postgres", 51004, "k8s:app.kubernetes.io/name=postgresql", "k8s:app.kubernetes.io/instance=orders")
		ep.Workloads[0].Kind = "StatefulSet"
		return ep
	}
)

// synFlow is the opening packet of a TCP connection as Hubble reports it.
func synFlow(t *testing.T, at time.Time, src, dst *flowpb.Endpoint, srcIP, dstIP string, dport uint32, verdict flowpb.Verdict) []byte {
	t.Helper()
	f := &flowpb.Flow{
		Time: timestamppb.New(at), NodeName: "shop-worker-1", Verdict: verdict, Type: flowpb.FlowType_L3_L4,
		EventType: &flowpb.CiliumEventType{Type: 4},
		IP:        &flowpb.IP{Source: srcIP, Destination: dstIP, IpVersion: flowpb.IPVersion_IPv4},
		L4: &flowpb.Layer4{Protocol: &flowpb.Layer4_TCP{TCP: &flowpb.TCP{SourcePort: 40000 + uint32(at.Second()), DestinationPort: dport,
			Flags: &flowpb.TCPFlags{SYN: true}}}},
		Source: src, Destination: dst, IsReply: wrapperspb.Bool(false),
		TrafficDirection: flowpb.TrafficDirection_EGRESS,
	}
	if verdict == flowpb.Verdict_DROPPED {
		f.EventType = &flowpb.CiliumEventType{Type: 1, SubType: 133}
		f.DropReasonDesc = flowpb.DropReason_POLICY_DENIED
	}
	resp := &observerpb.GetFlowsResponse{ResponseTypes: &observerpb.GetFlowsResponse_Flow{Flow: f}, NodeName: f.NodeName, Time: f.Time}
	b, err := protojson.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// driftFlows are a new connection (checkout -> cart:8080, allowed by the
// datapath because policy is not enforced yet, say) and a connection the
// datapath dropped by policy (debug-shell -> postgres:5432).
func (f fixture) driftFlows(t *testing.T) []byte {
	return bytes.Join([][]byte{
		synFlow(t, f.end.Add(time.Minute), checkoutPod(), cartPod(), "10.0.1.17", "10.0.2.23", 8080, flowpb.Verdict_FORWARDED),
		synFlow(t, f.end.Add(2*time.Minute), debugPod(), postgresPod(), "10.0.1.40", "10.0.3.9", 5432, flowpb.Verdict_DROPPED),
	}, nil)
}
