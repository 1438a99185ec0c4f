package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	observerpb "github.com/cilium/cilium/api/v1/observer"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/netpolgen/netpolgen/internal/capturetest"
)

// TestLearnWritesNoRuleForAClusterIP is the second failure the real
// datapath showed (e2e/local TestServicePortTranslation): the agent
// reports a call through a ClusterIP twice, first as the pod sent it
// (FROM_ENDPOINT: the ClusterIP, the Service port, reserved:world, the
// Service named) and then translated (the backend pod, its target port).
// learn wrote a toCIDR rule for the ClusterIP on the Service port; Cilium
// never needs it, and a reviewer reads it as a hole to the internet.
func TestLearnWritesNoRuleForAClusterIP(t *testing.T) {
	pod := func(name, app string, id uint32) *flowpb.Endpoint {
		return &flowpb.Endpoint{ID: id, Identity: 1000 + id, Namespace: "shop", PodName: name,
			Labels: []string{"k8s:app=" + app, "k8s:io.kubernetes.pod.namespace=shop"}}
	}
	world := &flowpb.Endpoint{Identity: 2, Labels: []string{"reserved:world"}}
	web, api := pod("web-7d9f-abcde", "web", 1), pod("api-5c8b-fghij", "api", 2)
	svc := &flowpb.Service{Namespace: "shop", Name: "api"}
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	var resps []*observerpb.GetFlowsResponse
	add := func(i int, point flowpb.TraceObservationPoint, f *flowpb.Flow) {
		at := timestamppb.New(t0.Add(time.Duration(i) * time.Second))
		f.Time, f.NodeName, f.Verdict = at, "vm", flowpb.Verdict_FORWARDED
		f.Type, f.EventType, f.TraceObservationPoint = flowpb.FlowType_L3_L4, &flowpb.CiliumEventType{Type: 4}, point
		f.DestinationService, f.IsReply = svc, wrapperspb.Bool(false)
		resps = append(resps, &observerpb.GetFlowsResponse{NodeName: "vm", Time: at, ResponseTypes: &observerpb.GetFlowsResponse_Flow{Flow: f}})
	}
	for i := 0; i < 3; i++ {
		sport := 40000 + uint32(i)
		add(2*i, flowpb.TraceObservationPoint_FROM_ENDPOINT, &flowpb.Flow{
			IP:     &flowpb.IP{Source: "10.244.0.11", Destination: "10.96.0.20", IpVersion: flowpb.IPVersion_IPv4},
			L4:     &flowpb.Layer4{Protocol: &flowpb.Layer4_TCP{TCP: &flowpb.TCP{SourcePort: sport, DestinationPort: 80, Flags: &flowpb.TCPFlags{SYN: true}}}},
			Source: web, Destination: world,
		})
		add(2*i+1, flowpb.TraceObservationPoint_TO_ENDPOINT, &flowpb.Flow{
			IP:     &flowpb.IP{Source: "10.244.0.11", Destination: "10.244.0.12", IpVersion: flowpb.IPVersion_IPv4},
			L4:     &flowpb.Layer4{Protocol: &flowpb.Layer4_TCP{TCP: &flowpb.TCP{SourcePort: sport, DestinationPort: 8080, Flags: &flowpb.TCPFlags{SYN: true}}}},
			Source: web, Destination: api,
		})
	}
	out := t.TempDir()
	code, stdout, stderr := run(t, "", "learn", "--from-file", capturetest.Write(t, resps), "--out", out, "--format", "both")
	if code != 0 {
		t.Fatalf("learn: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "verify: 1 of 1 observed connections allowed") {
		t.Errorf("learn did not verify the one connection through the Service:\n%s", stdout)
	}
	for _, name := range []string{"web.yaml", "api.yaml"} {
		yaml, err := os.ReadFile(filepath.Join(out, "shop", name))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(yaml), `"8080"`) {
			t.Errorf("%s does not allow the target port 8080:\n%s", name, yaml)
		}
		for _, excess := range []string{"10.96.0.20", `"80"`, "world", "0.0.0.0/0"} {
			if strings.Contains(string(yaml), excess) {
				t.Errorf("%s holds %s, which only the untranslated trace shows:\n%s", name, excess, yaml)
			}
		}
	}
}
