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

// TestLearnAllowsObservedPings runs learn over pings between two pods in
// both IP families (requests and their replies): the policies allow the
// requests by ICMP type in the pinging direction only, and verification
// proves it through Cilium's engine (exit 0).
func TestLearnAllowsObservedPings(t *testing.T) {
	pod := func(name, app string, id uint32) *flowpb.Endpoint {
		return &flowpb.Endpoint{ID: id, Identity: 1000 + id, Namespace: "shop", PodName: name,
			Labels: []string{"k8s:app=" + app, "k8s:io.kubernetes.pod.namespace=shop"}}
	}
	web, api := pod("web-7d9f-abcde", "web", 1), pod("api-5c8b-fghij", "api", 2)
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	var resps []*observerpb.GetFlowsResponse
	ping := func(i int, v6 bool, reply bool) {
		src, dst, srcIP, dstIP := web, api, "10.0.0.1", "10.0.0.2"
		if v6 {
			srcIP, dstIP = "fd00::1", "fd00::2"
		}
		typ := map[bool]uint32{false: 8, true: 0}[reply]
		l4 := &flowpb.Layer4{Protocol: &flowpb.Layer4_ICMPv4{ICMPv4: &flowpb.ICMPv4{Type: typ}}}
		ipv := flowpb.IPVersion_IPv4
		if v6 {
			typ = map[bool]uint32{false: 128, true: 129}[reply]
			l4 = &flowpb.Layer4{Protocol: &flowpb.Layer4_ICMPv6{ICMPv6: &flowpb.ICMPv6{Type: typ}}}
			ipv = flowpb.IPVersion_IPv6
		}
		if reply {
			src, dst, srcIP, dstIP = dst, src, dstIP, srcIP
		}
		at := timestamppb.New(t0.Add(time.Duration(i) * time.Second))
		resps = append(resps, &observerpb.GetFlowsResponse{NodeName: "node-a", Time: at, ResponseTypes: &observerpb.GetFlowsResponse_Flow{Flow: &flowpb.Flow{
			Time: at, NodeName: "node-a", Verdict: flowpb.Verdict_FORWARDED, Type: flowpb.FlowType_L3_L4,
			IP: &flowpb.IP{Source: srcIP, Destination: dstIP, IpVersion: ipv}, L4: l4,
			Source: src, Destination: dst, IsReply: wrapperspb.Bool(reply),
			EventType: &flowpb.CiliumEventType{Type: 4}, TraceObservationPoint: flowpb.TraceObservationPoint_TO_ENDPOINT,
		}}})
	}
	for i := 0; i < 3; i++ {
		ping(4*i, false, false)
		ping(4*i+1, false, true)
		ping(4*i+2, true, false)
		ping(4*i+3, true, true)
	}
	out := t.TempDir()
	code, stdout, stderr := run(t, "", "learn", "--from-file", capturetest.Write(t, resps), "--out", out, "--format", "cilium")
	if code != 0 {
		t.Fatalf("learn: exit %d\n%s\n%s", code, stdout, stderr)
	}
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join(out, "shop", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	webPolicy, apiPolicy := read("web.yaml"), read("api.yaml")
	for name, doc := range map[string]string{"web (egress)": webPolicy, "api (ingress)": apiPolicy} {
		for _, want := range []string{"icmps:", "family: IPv4", "type: 8", "family: IPv6", "type: 128"} {
			if !strings.Contains(doc, want) {
				t.Errorf("%s policy lacks %q:\n%s", name, want, doc)
			}
		}
	}
	// The replies need no rule: web takes no ingress and api sends no
	// egress at all.
	if strings.Contains(webPolicy, "\n  ingress:") || strings.Contains(apiPolicy, "\n  egress:") {
		t.Errorf("a rule allows the replies' direction:\n%s\n%s", webPolicy, apiPolicy)
	}
}
