package cli

import (
	"strings"
	"testing"
	"time"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	observerpb "github.com/cilium/cilium/api/v1/observer"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/netpolgen/netpolgen/internal/capturetest"
)

// TestLearnLeavesOutUnknownIdentities is the first failure the real
// datapath showed: a live agent reports IPv6 router solicitations
// (link-local to ff02::2) with reserved:unknown endpoints, and learn
// refused the whole run ("verify: peer entity:unknown: Cilium has no
// reserved identity of that name"). They are left out; the pods' own
// traffic is learned and verified as before.
func TestLearnLeavesOutUnknownIdentities(t *testing.T) {
	pod := func(name, app string, id uint32) *flowpb.Endpoint {
		return &flowpb.Endpoint{ID: id, Identity: 1000 + id, Namespace: "shop", PodName: name,
			Labels: []string{"k8s:app=" + app, "k8s:io.kubernetes.pod.namespace=shop"}}
	}
	unknown := &flowpb.Endpoint{Labels: []string{"reserved:unknown"}}
	web, api := pod("web-7d9f-abcde", "web", 1), pod("api-5c8b-fghij", "api", 2)
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	var resps []*observerpb.GetFlowsResponse
	add := func(i int, f *flowpb.Flow) {
		at := timestamppb.New(t0.Add(time.Duration(i) * time.Second))
		f.Time, f.NodeName, f.Verdict = at, "vm", flowpb.Verdict_FORWARDED
		f.Type, f.EventType, f.TraceObservationPoint = flowpb.FlowType_L3_L4, &flowpb.CiliumEventType{Type: 4}, flowpb.TraceObservationPoint_TO_STACK
		resps = append(resps, &observerpb.GetFlowsResponse{NodeName: "vm", Time: at, ResponseTypes: &observerpb.GetFlowsResponse_Flow{Flow: f}})
	}
	for i := 0; i < 3; i++ {
		add(3*i, &flowpb.Flow{
			IP:     &flowpb.IP{Source: "10.244.0.11", Destination: "10.244.0.12", IpVersion: flowpb.IPVersion_IPv4},
			L4:     &flowpb.Layer4{Protocol: &flowpb.Layer4_TCP{TCP: &flowpb.TCP{SourcePort: 40000 + uint32(i), DestinationPort: 8080, Flags: &flowpb.TCPFlags{SYN: true}}}},
			Source: web, Destination: api, IsReply: wrapperspb.Bool(false),
		})
		// What the agent reports for a pod's router solicitation: both
		// ends reserved:unknown, from a link-local address.
		add(3*i+1, &flowpb.Flow{
			IP:     &flowpb.IP{Source: "fe80::4c1f:2aff:fe3b:1", Destination: "ff02::2", IpVersion: flowpb.IPVersion_IPv6},
			L4:     &flowpb.Layer4{Protocol: &flowpb.Layer4_ICMPv6{ICMPv6: &flowpb.ICMPv6{Type: 133}}},
			Source: unknown, Destination: unknown,
		})
		// And one whose source is a pod.
		add(3*i+2, &flowpb.Flow{
			IP:     &flowpb.IP{Source: "fe80::4c1f:2aff:fe3b:2", Destination: "ff02::2", IpVersion: flowpb.IPVersion_IPv6},
			L4:     &flowpb.Layer4{Protocol: &flowpb.Layer4_ICMPv6{ICMPv6: &flowpb.ICMPv6{Type: 133}}},
			Source: web, Destination: unknown,
		})
	}
	out := t.TempDir()
	code, stdout, stderr := run(t, "", "learn", "--from-file", capturetest.Write(t, resps), "--out", out, "--format", "both")
	if code != 0 {
		t.Fatalf("learn: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "verify: 1 of 1 observed connections allowed") {
		t.Errorf("learn did not verify the pods' one connection:\n%s", stdout)
	}
	if strings.Contains(stdout+stderr, "unknown") {
		t.Errorf("an unknown identity reached the policies or the checks:\n%s\n%s", stdout, stderr)
	}
}
