package replay

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	observerpb "github.com/cilium/cilium/api/v1/observer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/netpolgen/netpolgen/internal/capturetest"
	"github.com/netpolgen/netpolgen/internal/flowgen"
)

// l7Capture is a few minutes of flowgen's L7 scenario (HTTP, DNS, FQDNs,
// workloads, TCP flags), plus what flowgen leaves out so node-label and
// cluster filters have something to tell apart: each node gets a zone
// label, and endpoints the cluster label of their identity as Cilium sets
// their cluster name.
func l7Capture(t *testing.T) string {
	t.Helper()
	var buf bytes.Buffer
	if _, err := flowgen.Generate(flowgen.L7(), flowgen.Options{Seed: 7, Duration: 3 * time.Minute}, &buf); err != nil {
		t.Fatal(err)
	}
	raw := filepath.Join(t.TempDir(), "l7.json")
	if err := os.WriteFile(raw, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := LoadCapture(raw)
	if err != nil {
		t.Fatal(err)
	}
	resps := make([]*observerpb.GetFlowsResponse, 0, len(c.Events))
	for _, ev := range c.Events {
		r := proto.CloneOf(ev.Resp)
		if f := r.GetFlow(); f != nil {
			zone := "zone-a"
			if strings.HasSuffix(f.GetNodeName(), "-2") {
				zone = "zone-b"
			}
			f.NodeLabels = []string{"kubernetes.io/hostname=" + f.GetNodeName(), "topology.kubernetes.io/zone=" + zone}
			for _, ep := range []*flowpb.Endpoint{f.GetSource(), f.GetDestination()} {
				if slices.Contains(ep.GetLabels(), "k8s:io.cilium.k8s.policy.cluster=default") {
					ep.ClusterName = "default"
				}
			}
		}
		resps = append(resps, r)
	}
	return capturetest.Write(t, resps)
}

func hasLabel(ep *flowpb.Endpoint, l string) bool { return slices.Contains(ep.GetLabels(), l) }

func hasWorkload(ep *flowpb.Endpoint, name string) bool {
	return slices.ContainsFunc(ep.GetWorkloads(), func(w *flowpb.Workload) bool { return w.GetName() == name })
}

// TestHubbleFilters asks the server for flows with filters of most kinds
// Hubble has, including the ones the hand-written engine used to refuse,
// and checks the answer against a plain reading of each filter over what
// the server holds. Each case must keep some flows and drop others, so it
// could fail.
func TestHubbleFilters(t *testing.T) {
	client := startServer(t, l7Capture(t), Options{})
	served, err := collect(t, client, &observerpb.GetFlowsRequest{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	dbNames := regexp.MustCompile(`^shard-[0-9]+\.orders-db\.example\.net$`)
	usersPath := regexp.MustCompile(`^http://[^/]+/api/v1/users(/|$)`)
	pod := netip.MustParsePrefix("10.244.1.0/24")
	tests := []struct {
		name         string
		white, black []*flowpb.FlowFilter
		keep         func(*flowpb.Flow) bool
	}{
		{
			name:  "source label",
			white: []*flowpb.FlowFilter{{SourceLabel: []string{"k8s:app.kubernetes.io/name=gateway"}}},
			keep:  func(f *flowpb.Flow) bool { return hasLabel(f.GetSource(), "k8s:app.kubernetes.io/name=gateway") },
		},
		{
			name:  "destination label set",
			white: []*flowpb.FlowFilter{{DestinationLabel: []string{"app.kubernetes.io/name in (cart,users)"}}},
			keep: func(f *flowpb.Flow) bool {
				return hasLabel(f.GetDestination(), "k8s:app.kubernetes.io/name=cart") || hasLabel(f.GetDestination(), "k8s:app.kubernetes.io/name=users")
			},
		},
		{
			name:  "destination fqdn",
			white: []*flowpb.FlowFilter{{DestinationFqdn: []string{"*.orders-db.example.net"}}},
			keep: func(f *flowpb.Flow) bool {
				return slices.ContainsFunc(f.GetDestinationNames(), dbNames.MatchString)
			},
		},
		{
			name:  "http method",
			white: []*flowpb.FlowFilter{{HttpMethod: []string{"get"}}},
			keep:  func(f *flowpb.Flow) bool { return f.GetL7().GetHttp().GetMethod() == "GET" },
		},
		{
			name:  "http path",
			white: []*flowpb.FlowFilter{{HttpPath: []string{"^/api/v1/users(/|$)"}}},
			keep:  func(f *flowpb.Flow) bool { return usersPath.MatchString(f.GetL7().GetHttp().GetUrl()) },
		},
		{
			name:  "http url",
			white: []*flowpb.FlowFilter{{HttpUrl: []string{`\?status=open`}}},
			keep:  func(f *flowpb.Flow) bool { return strings.Contains(f.GetL7().GetHttp().GetUrl(), "?status=open") },
		},
		{
			name:  "http status",
			white: []*flowpb.FlowFilter{{HttpStatusCode: []string{"2+"}}},
			keep:  func(f *flowpb.Flow) bool { c := f.GetL7().GetHttp().GetCode(); return c >= 200 && c < 300 },
		},
		{
			name:  "dns query",
			white: []*flowpb.FlowFilter{{DnsQuery: []string{`\.svc\.cluster\.local\.$`}}},
			keep: func(f *flowpb.Flow) bool {
				return strings.HasSuffix(f.GetL7().GetDns().GetQuery(), ".svc.cluster.local.")
			},
		},
		{
			name:  "node labels",
			white: []*flowpb.FlowFilter{{NodeLabels: []string{"topology.kubernetes.io/zone=zone-b"}}},
			keep:  func(f *flowpb.Flow) bool { return f.GetNodeName() == "l7-worker-2" },
		},
		{
			name:  "source ip cidr",
			white: []*flowpb.FlowFilter{{SourceIp: []string{pod.String()}}},
			keep: func(f *flowpb.Flow) bool {
				a, err := netip.ParseAddr(f.GetIP().GetSource())
				return err == nil && pod.Contains(a)
			},
		},
		{
			name:  "tcp flags",
			white: []*flowpb.FlowFilter{{TcpFlags: []*flowpb.TCPFlags{{SYN: true}}}},
			keep:  func(f *flowpb.Flow) bool { return f.GetL4().GetTCP().GetFlags().GetSYN() },
		},
		{
			name:  "destination workload",
			white: []*flowpb.FlowFilter{{DestinationWorkload: []*flowpb.Workload{{Name: "orders"}}}},
			keep:  func(f *flowpb.Flow) bool { return hasWorkload(f.GetDestination(), "orders") },
		},
		{
			name:  "traffic direction",
			white: []*flowpb.FlowFilter{{TrafficDirection: []flowpb.TrafficDirection{flowpb.TrafficDirection_EGRESS}}},
			keep:  func(f *flowpb.Flow) bool { return f.GetTrafficDirection() == flowpb.TrafficDirection_EGRESS },
		},
		{
			name:  "source cluster",
			white: []*flowpb.FlowFilter{{SourceClusterName: []string{"default"}}},
			keep:  func(f *flowpb.Flow) bool { return hasLabel(f.GetSource(), "k8s:io.cilium.k8s.policy.cluster=default") },
		},
		{
			name:  "cel expression",
			white: []*flowpb.FlowFilter{{Experimental: &flowpb.FlowFilter_Experimental{CelExpression: []string{"_flow.node_name == 'l7-worker-1'"}}}},
			keep:  func(f *flowpb.Flow) bool { return f.GetNodeName() == "l7-worker-1" },
		},
		{
			name:  "fields of one filter are and-ed",
			white: []*flowpb.FlowFilter{{HttpMethod: []string{"POST"}, DestinationPod: []string{"market/cart-"}}},
			keep: func(f *flowpb.Flow) bool {
				return f.GetL7().GetHttp().GetMethod() == "POST" && f.GetDestination().GetNamespace() == "market" &&
					strings.HasPrefix(f.GetDestination().GetPodName(), "cart-")
			},
		},
		{
			name:  "filters of a list are or-ed, blacklist drops",
			white: []*flowpb.FlowFilter{{SourceWorkload: []*flowpb.Workload{{Name: "gateway"}}}, {Protocol: []string{"dns"}}},
			black: []*flowpb.FlowFilter{{TrafficDirection: []flowpb.TrafficDirection{flowpb.TrafficDirection_INGRESS}}},
			keep: func(f *flowpb.Flow) bool {
				return (hasWorkload(f.GetSource(), "gateway") || f.GetL7().GetDns() != nil) &&
					f.GetTrafficDirection() != flowpb.TrafficDirection_INGRESS
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want []*observerpb.GetFlowsResponse
			for _, r := range served {
				if tt.keep(r.GetFlow()) {
					want = append(want, r)
				}
			}
			if len(want) == 0 || len(want) == len(served) {
				t.Fatalf("the filter should keep some of the %d flows, and not all; it keeps %d", len(served), len(want))
			}
			got, err := collect(t, client, &observerpb.GetFlowsRequest{Whitelist: tt.white, Blacklist: tt.black}, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("got %d flows, want %d", len(got), len(want))
			}
			for i := range want {
				if !proto.Equal(got[i], want[i]) {
					t.Fatalf("flow %d:\ngot  %v\nwant %v", i, got[i], want[i])
				}
			}
		})
	}
}

// TestRejectedFilters checks that a filter Hubble's engine cannot build
// reaches the client as InvalidArgument, naming the problem.
func TestRejectedFilters(t *testing.T) {
	path, _ := sampleCapture(t)
	client := startServer(t, path, Options{})
	tests := []struct {
		name   string
		filter *flowpb.FlowFilter
		want   string // part of Cilium's own message
	}{
		{"label selector", &flowpb.FlowFilter{SourceLabel: []string{"app in x"}}, "label"},
		{"ip", &flowpb.FlowFilter{SourceIp: []string{"10.0.0.300"}}, "10.0.0.300"},
		{"port", &flowpb.FlowFilter{DestinationPort: []string{"http"}}, "http"},
		{"http status", &flowpb.FlowFilter{HttpStatusCode: []string{"5xx"}}, "5xx"},
		{"http path", &flowpb.FlowFilter{HttpPath: []string{"("}}, "("},
		{"empty pod", &flowpb.FlowFilter{SourcePod: []string{""}}, "empty"},
		{"cel", &flowpb.FlowFilter{Experimental: &flowpb.FlowFilter_Experimental{CelExpression: []string{"_flow.nope =="}}}, "CEL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, req := range []*observerpb.GetFlowsRequest{
				{Whitelist: []*flowpb.FlowFilter{tt.filter}},
				{Blacklist: []*flowpb.FlowFilter{tt.filter}},
			} {
				_, err := collect(t, client, req, 0)
				msg := status.Convert(err).Message()
				if status.Code(err) != codes.InvalidArgument || !strings.HasPrefix(msg, "invalid flow filter: ") || !strings.Contains(msg, tt.want) {
					t.Fatalf("got %v, want InvalidArgument: invalid flow filter: ...%s...", err, tt.want)
				}
			}
		})
	}
}
