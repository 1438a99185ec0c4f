package replay

import (
	"strings"
	"testing"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func TestLabelSelectors(t *testing.T) {
	labels := []string{"k8s:app=reviews", "k8s:version=v2", "reserved:host", "k8s:io.kubernetes.pod.namespace=bookinfo", "container:tier=web"}
	tests := []struct {
		sel  string
		want bool
	}{
		{"app=reviews", true},
		{"k8s:app=reviews", true},
		{"any:app=reviews", true},
		{"container:app=reviews", false},
		{"app==reviews", true},
		{"app=ratings", false},
		{"app!=ratings", true},
		{"app!=reviews", false},
		{"missing!=x", true},
		{"app", true},
		{"reserved:host", true},
		{"host", true},
		{"!canary", true},
		{"!app", false},
		{"app in (ratings, reviews)", true},
		{"app notin (ratings, reviews)", false},
		{"app=reviews,version=v2", true},
		{"app=reviews,version=v3", false},
		{"app in (reviews),!canary,tier=web", true},
		{"io.kubernetes.pod.namespace=bookinfo", true},
		{"", true},
	}
	for _, tt := range tests {
		sel, err := parseSelector(tt.sel)
		if err != nil {
			t.Errorf("parseSelector(%q): %v", tt.sel, err)
			continue
		}
		if got := sel.matches(labels); got != tt.want {
			t.Errorf("%q matches %v: %v, want %v", tt.sel, labels, got, tt.want)
		}
	}
	for _, bad := range []string{"app in reviews", "=x", "!", "a b=c"} {
		if _, err := parseSelector(bad); err == nil {
			t.Errorf("parseSelector(%q) accepted a malformed selector", bad)
		}
	}
}

func TestFlowFilterFields(t *testing.T) {
	flow := &flowpb.Flow{
		NodeName:           "kind-worker2",
		Verdict:            flowpb.Verdict_DROPPED,
		IP:                 &flowpb.IP{Source: "10.0.1.5", Destination: "10.96.0.10", IpVersion: flowpb.IPVersion_IPv4},
		L4:                 &flowpb.Layer4{Protocol: &flowpb.Layer4_UDP{UDP: &flowpb.UDP{SourcePort: 40000, DestinationPort: 53}}},
		L7:                 &flowpb.Layer7{Record: &flowpb.Layer7_Dns{Dns: &flowpb.DNS{Query: "x."}}},
		Source:             &flowpb.Endpoint{Namespace: "shop", PodName: "cart-1", Identity: 1234},
		IsReply:            wrapperspb.Bool(false),
		EventType:          &flowpb.CiliumEventType{Type: 1, SubType: 133},
		DestinationNames:   []string{"api.example.com."},
		Uuid:               "u-1",
		DestinationService: &flowpb.Service{Name: "kube-dns", Namespace: "kube-system"},
		TrafficDirection:   flowpb.TrafficDirection_EGRESS,
	}
	tests := []struct {
		name   string
		filter *flowpb.FlowFilter
		want   bool
	}{
		{"cidr", &flowpb.FlowFilter{SourceIp: []string{"10.0.0.0/16"}}, true},
		{"exact ip", &flowpb.FlowFilter{DestinationIp: []string{"10.96.0.11", "10.96.0.10"}}, true},
		{"other ip", &flowpb.FlowFilter{SourceIp: []string{"10.0.2.0/24"}}, false},
		{"port", &flowpb.FlowFilter{DestinationPort: []string{"53"}}, true},
		{"protocol l4", &flowpb.FlowFilter{Protocol: []string{"UDP"}}, true},
		{"protocol l7", &flowpb.FlowFilter{Protocol: []string{"dns"}}, true},
		{"protocol other", &flowpb.FlowFilter{Protocol: []string{"tcp", "http"}}, false},
		{"node glob", &flowpb.FlowFilter{NodeName: []string{"kind-*"}}, true},
		{"node with cluster", &flowpb.FlowFilter{NodeName: []string{"default/kind-worker2"}}, true},
		{"other cluster", &flowpb.FlowFilter{NodeName: []string{"prod/kind-worker2"}}, false},
		{"identity", &flowpb.FlowFilter{SourceIdentity: []uint32{1234}}, true},
		{"reply false", &flowpb.FlowFilter{Reply: []bool{false}}, true},
		{"reply true", &flowpb.FlowFilter{Reply: []bool{true}}, false},
		{"event type", &flowpb.FlowFilter{EventType: []*flowpb.EventTypeFilter{{Type: 1}}}, true},
		{"event sub type", &flowpb.FlowFilter{EventType: []*flowpb.EventTypeFilter{{Type: 1, MatchSubType: true, SubType: 2}}}, false},
		{"service", &flowpb.FlowFilter{DestinationService: []string{"kube-system/kube-dns"}}, true},
		{"direction", &flowpb.FlowFilter{TrafficDirection: []flowpb.TrafficDirection{flowpb.TrafficDirection_INGRESS}}, false},
		{"ip version", &flowpb.FlowFilter{IpVersion: []flowpb.IPVersion{flowpb.IPVersion_IPv4}}, true},
		{"verdict and pod", &flowpb.FlowFilter{Verdict: []flowpb.Verdict{flowpb.Verdict_DROPPED}, SourcePod: []string{"shop/cart"}}, true},
		{"verdict but not pod", &flowpb.FlowFilter{Verdict: []flowpb.Verdict{flowpb.Verdict_DROPPED}, SourcePod: []string{"shop/web"}}, false},
		{"fqdn glob", &flowpb.FlowFilter{DestinationFqdn: []string{"*.Example.com."}}, true},
		{"fqdn other", &flowpb.FlowFilter{SourceFqdn: []string{"*.example.com"}}, false},
		{"uuid", &flowpb.FlowFilter{Uuid: []string{"u-1"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list, err := compileFilters([]*flowpb.FlowFilter{tt.filter})
			if err != nil {
				t.Fatal(err)
			}
			if got := list.any(flow); got != tt.want {
				t.Errorf("match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFilterErrors(t *testing.T) {
	tests := []struct {
		filter *flowpb.FlowFilter
		want   string
	}{
		{&flowpb.FlowFilter{SourceIp: []string{"10.0.0.300"}}, "neither an IP address nor a CIDR"},
		{&flowpb.FlowFilter{DestinationPort: []string{"http"}}, "not a port number"},
		{&flowpb.FlowFilter{Protocol: []string{"quic"}}, "unknown protocol"},
		{&flowpb.FlowFilter{SourcePod: []string{""}}, "must not be empty"},
		{&flowpb.FlowFilter{NodeName: []string{"a/b/c"}}, "too many slashes"},
		{&flowpb.FlowFilter{SourceClusterName: []string{"prod"}}, "does not support the source_cluster_name filter"},
	}
	for _, tt := range tests {
		_, err := compileFilters([]*flowpb.FlowFilter{tt.filter})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: got %v, want an error mentioning %q", tt.filter, err, tt.want)
		}
	}
}

func TestHTTPAndTCPFilters(t *testing.T) {
	http := &flowpb.Flow{
		L4: &flowpb.Layer4{Protocol: &flowpb.Layer4_TCP{TCP: &flowpb.TCP{Flags: &flowpb.TCPFlags{SYN: true, ACK: true}}}},
		L7: &flowpb.Layer7{Record: &flowpb.Layer7_Http{Http: &flowpb.HTTP{Code: 503, Method: "GET", Url: "http://cart:8080/api/v1/items?x=1"}}},
	}
	tests := []struct {
		name   string
		filter *flowpb.FlowFilter
		want   bool
	}{
		{"status full", &flowpb.FlowFilter{HttpStatusCode: []string{"503"}}, true},
		{"status prefix", &flowpb.FlowFilter{HttpStatusCode: []string{"5+"}}, true},
		{"status two-digit prefix", &flowpb.FlowFilter{HttpStatusCode: []string{"50+"}}, true},
		{"status other", &flowpb.FlowFilter{HttpStatusCode: []string{"4+", "200"}}, false},
		{"method", &flowpb.FlowFilter{HttpMethod: []string{"get"}}, true},
		{"method other", &flowpb.FlowFilter{HttpMethod: []string{"POST"}}, false},
		{"path", &flowpb.FlowFilter{HttpPath: []string{"^/api/v[0-9]+/"}}, true},
		{"path ignores the query", &flowpb.FlowFilter{HttpPath: []string{"x=1"}}, false},
		{"syn", &flowpb.FlowFilter{TcpFlags: []*flowpb.TCPFlags{{SYN: true}}}, true},
		{"syn and fin", &flowpb.FlowFilter{TcpFlags: []*flowpb.TCPFlags{{SYN: true, FIN: true}}}, false},
		{"any of the sets", &flowpb.FlowFilter{TcpFlags: []*flowpb.TCPFlags{{RST: true}, {ACK: true}}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list, err := compileFilters([]*flowpb.FlowFilter{tt.filter})
			if err != nil {
				t.Fatal(err)
			}
			if got := list.any(http); got != tt.want {
				t.Errorf("match = %v, want %v", got, tt.want)
			}
		})
	}
	if _, err := compileFilters([]*flowpb.FlowFilter{{HttpStatusCode: []string{"5xx"}}}); err == nil {
		t.Error("accepted status code 5xx")
	}
}
