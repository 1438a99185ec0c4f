package graph

import (
	"fmt"
	"testing"

	"github.com/netpolgen/netpolgen/pkg/observe"
)

// TestServiceFrontendTraceIsLeftOut is what the real datapath showed
// (e2e/local TestServicePortTranslation): a call through a ClusterIP is
// reported twice, first before Cilium's load-balancer translated it (the
// ClusterIP and the Service port, an outside address to Hubble, with the
// Service named), then translated (the backend pod, the target port). Only
// the second is the connection; the first would pin the ClusterIP into a
// toCIDR rule on the Service port.
func TestServiceFrontendTraceIsLeftOut(t *testing.T) {
	client := pod("shop", "web-7d9f-abcde", "app=web")
	backend := pod("shop", "api-5c8b-fghij", "app=api")
	svc := observe.Service{Namespace: "shop", Name: "api"}
	g := buildFrom(t, Options{},
		flowSpec{src: client, dst: reserved("world"), srcIP: "10.244.0.11", dstIP: "10.96.0.20", proto: observe.ProtoTCP,
			srcPort: 41000, dstPort: 80, flags: observe.FlagSYN, dstService: svc},
		flowSpec{src: client, dst: backend, srcIP: "10.244.0.11", dstIP: "10.244.0.12", proto: observe.ProtoTCP,
			srcPort: 41000, dstPort: 8080, flags: observe.FlagSYN, dstService: svc, at: 1},
		// A call to an outside address that no Service fronts stays.
		flowSpec{src: client, dst: reserved("world"), srcIP: "10.244.0.11", dstIP: "203.0.113.7", proto: observe.ProtoTCP,
			srcPort: 41001, dstPort: 443, flags: observe.FlagSYN, at: 2},
	)
	got := fmt.Sprint(edgeLines(g, g.Edges))
	want := "[shop/web -> 203.0.113.7/32 443/TCP shop/web -> shop/api 8080/TCP]"
	if got != want {
		t.Errorf("edges %s\nwant %s", got, want)
	}
	if n := g.Coverage.Skipped["service-frontend"]; n != 1 {
		t.Errorf("skipped service-frontend %d, want 1 (skipped: %v)", n, g.Coverage.Skipped)
	}
}

// TestTranslatedReplyIsLeftOut is the other half the real datapath showed
// (e2e/local TestServicePortTranslation): the backend's answer, delivered
// to the client after Cilium rev-NATed it to the ClusterIP and Service
// port, is reported with the pod's address restored (source_xlated holds
// the ClusterIP) but the Service port kept. Taken as a reply, it would
// open the Service port 80 on a pod that listens on 8080.
func TestTranslatedReplyIsLeftOut(t *testing.T) {
	client := pod("shop", "web-7d9f-abcde", "app=web")
	backend := pod("shop", "api-5c8b-fghij", "app=api")
	g := buildFrom(t, Options{},
		flowSpec{src: client, dst: backend, srcIP: "10.244.0.11", dstIP: "10.244.0.12", srcPort: 41000, dstPort: 8080,
			flags: observe.FlagSYN, reply: observe.ReplyFalse},
		flowSpec{src: backend, dst: client, srcIP: "10.244.0.12", dstIP: "10.244.0.11", srcPort: 8080, dstPort: 41000,
			flags: observe.FlagSYN | observe.FlagACK, reply: observe.ReplyTrue, at: 1},
		flowSpec{src: backend, dst: client, srcIP: "10.244.0.12", srcXlated: "10.96.0.20", dstIP: "10.244.0.11",
			srcPort: 80, dstPort: 41000, flags: observe.FlagSYN | observe.FlagACK, reply: observe.ReplyTrue, at: 2},
		// Undirected, the translated port would look like a server's.
		flowSpec{src: backend, dst: client, srcIP: "10.244.0.12", srcXlated: "10.96.0.20", dstIP: "10.244.0.11",
			srcPort: 80, dstPort: 41000, flags: observe.FlagACK, at: 3},
		// An opening flow SNATed on its way out keeps its destination.
		flowSpec{src: client, dst: reserved("world"), srcIP: "10.244.0.11", srcXlated: "192.168.1.10", dstIP: "203.0.113.7",
			srcPort: 41001, dstPort: 443, flags: observe.FlagSYN, reply: observe.ReplyFalse, at: 4},
	)
	got := fmt.Sprint(edgeLines(g, g.Edges))
	want := "[shop/web -> 203.0.113.7/32 443/TCP shop/web -> shop/api 8080/TCP]"
	if got != want {
		t.Errorf("edges %s\nwant %s", got, want)
	}
	if n := g.Coverage.Skipped["translated-reply"]; n != 2 {
		t.Errorf("skipped translated-reply %d, want 2 (skipped: %v)", n, g.Coverage.Skipped)
	}
}
