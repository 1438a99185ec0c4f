package graph

import (
	"bytes"
	"context"
	"net/netip"
	"sort"
	"testing"
	"time"

	flowpb "github.com/cilium/cilium/api/v1/flow"

	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/observe/capture"
)

// t0 is the time test flows start at.
var t0 = time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)

// pod builds a workload endpoint with Cilium's "k8s:" labels plus the
// namespace and bookkeeping labels every real pod carries.
func pod(ns, podName string, labels ...string) observe.Endpoint {
	ls := []string{
		"k8s:io.cilium.k8s.policy.cluster=default",
		"k8s:io.cilium.k8s.policy.serviceaccount=" + podName,
		"k8s:io.kubernetes.pod.namespace=" + ns,
	}
	for _, l := range labels {
		ls = append(ls, "k8s:"+l)
	}
	sort.Strings(ls)
	return observe.Endpoint{Namespace: ns, PodName: podName, Labels: ls, Identity: 1000}
}

func reserved(entities ...string) observe.Endpoint {
	var ls []string
	for _, e := range entities {
		ls = append(ls, "reserved:"+e)
	}
	return observe.Endpoint{Labels: ls}
}

// flowSpec describes a test flow; zero fields take harmless defaults.
type flowSpec struct {
	src, dst         observe.Endpoint
	srcIP, dstIP     string
	proto            observe.Protocol
	srcPort, dstPort uint16
	flags            observe.TCPFlags
	icmpType         uint8
	reply            observe.Reply
	legacyReply      bool
	verdict          flowpb.Verdict
	at               time.Duration
	node             string
	l7               *observe.L7
	dstNames         []string
	dstService       observe.Service
	srcXlated        string
}

func (s flowSpec) flow() *observe.Flow {
	f := &observe.Flow{
		Time: t0.Add(s.at), NodeName: s.node, Verdict: s.verdict,
		Source: s.src, Destination: s.dst, IsReply: s.reply, LegacyReply: s.legacyReply,
		L4:               observe.L4{Protocol: s.proto, SrcPort: s.srcPort, DstPort: s.dstPort, Flags: s.flags, ICMPType: s.icmpType},
		L7:               s.l7,
		DestinationNames: s.dstNames, DestinationService: s.dstService,
	}
	if f.Verdict == flowpb.Verdict_VERDICT_UNKNOWN {
		f.Verdict = flowpb.Verdict_FORWARDED
	}
	if f.L4.Protocol == observe.ProtoUnknown {
		f.L4.Protocol = observe.ProtoTCP
	}
	if s.srcIP != "" {
		f.SrcIP = netip.MustParseAddr(s.srcIP)
	}
	if s.dstIP != "" {
		f.DstIP = netip.MustParseAddr(s.dstIP)
	}
	if s.srcXlated != "" {
		f.SrcXlated = netip.MustParseAddr(s.srcXlated)
	}
	if f.NodeName == "" {
		f.NodeName = "node-a"
	}
	return f
}

func buildFrom(t testing.TB, opts Options, specs ...flowSpec) *Graph {
	t.Helper()
	b := NewBuilder(opts)
	for _, s := range specs {
		b.Add(s.flow())
	}
	return b.Finish()
}

// edgeLines renders edges as "from -> to port/proto" for comparisons.
func edgeLines(g *Graph, edges []Edge) []string {
	out := []string{}
	for i := range edges {
		out = append(out, g.EdgeString(&edges[i]))
	}
	return out
}

func buildFile(t testing.TB, opts Options, paths ...string) *Graph {
	t.Helper()
	g, err := Build(context.Background(), capture.NewSource(paths, capture.Options{Strict: true}), opts)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func snapshotBytes(t testing.TB, g *Graph) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := g.Save(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// toServerSYN opens a connection from frontend to cart:8080.
func toServerSYN(port uint16) flowSpec {
	s := toServer(port, observe.ProtoTCP)
	s.flags = observe.FlagSYN
	return s
}
