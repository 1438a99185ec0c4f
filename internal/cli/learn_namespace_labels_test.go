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
	"github.com/netpolgen/netpolgen/internal/drift"
	"github.com/netpolgen/netpolgen/internal/sharedflows"
)

// unlabelledNamespaceCapture is web in shop calling db in data, from a
// cluster whose identities carry no namespace labels (Kubernetes before
// 1.21: no kubernetes.io/metadata.name, so no
// io.cilium.k8s.namespace.labels.* either).
func unlabelledNamespaceCapture(t *testing.T) string {
	pod := func(ns, name, app string, id uint32) *flowpb.Endpoint {
		return &flowpb.Endpoint{ID: id, Identity: 1000 + id, Namespace: ns, PodName: name,
			Labels: []string{"k8s:app=" + app, "k8s:io.cilium.k8s.policy.cluster=default", "k8s:io.cilium.k8s.policy.serviceaccount=default", "k8s:io.kubernetes.pod.namespace=" + ns}}
	}
	web, db := pod("shop", "web-7d9f8c6b5-abcde", "web", 1), pod("data", "db-0", "db", 2)
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	var resps []*observerpb.GetFlowsResponse
	for i := range 3 {
		at := timestamppb.New(t0.Add(time.Duration(i) * time.Second))
		resps = append(resps, &observerpb.GetFlowsResponse{NodeName: "node-a", Time: at, ResponseTypes: &observerpb.GetFlowsResponse_Flow{Flow: &flowpb.Flow{
			Time: at, NodeName: "node-a", Verdict: flowpb.Verdict_FORWARDED, Type: flowpb.FlowType_L3_L4,
			IP:     &flowpb.IP{Source: "10.0.0.1", Destination: "10.0.1.2", IpVersion: flowpb.IPVersion_IPv4},
			L4:     &flowpb.Layer4{Protocol: &flowpb.Layer4_TCP{TCP: &flowpb.TCP{SourcePort: uint32(40000 + i), DestinationPort: 5432, Flags: &flowpb.TCPFlags{SYN: true}}}},
			Source: web, Destination: db, IsReply: wrapperspb.Bool(false),
			EventType: &flowpb.CiliumEventType{Type: 4}, TraceObservationPoint: flowpb.TraceObservationPoint_TO_ENDPOINT,
		}}})
	}
	return capturetest.Write(t, resps)
}

// Where the identities show no namespace labels, a NetworkPolicy cannot
// select the other namespace: learn leaves the peer out, REPORT.md says
// why, and verification (learn's and verify's) fails the connection with
// the reason; a CiliumNetworkPolicy selects by io.kubernetes.pod.namespace
// and passes. Checked on a built capture and on the real GKE capture from
// 2021 (Kubernetes 1.18: no namespace labels).
func TestNetworkPolicyNeedsNamespaceLabels(t *testing.T) {
	t.Run("built", func(t *testing.T) {
		checkNamespaceLabels(t, unlabelledNamespaceCapture(t), "shop/web -> data/db 5432/TCP", "data")
	})
	t.Run("multiubuntu-gke", func(t *testing.T) {
		capture := sharedflows.Path(t, "multiubuntu-gke/flows-template-verbose.json")
		checkNamespaceLabels(t, capture, "multiubuntu/ubuntu-1-deployment -> kube-system/kube-dns 53/UDP", "kube-system")
	})
}

func checkNamespaceLabels(t *testing.T, capture, conn, namespace string) {
	t.Helper()
	why := "NetworkPolicy cannot select namespace " + namespace + ": its pods' identities carry no namespace labels"

	np := t.TempDir()
	code, stdout, stderr := run(t, "", "learn", "--from-file", capture, "--format", "kubernetes", "--out", np)
	if code != 1 || !strings.Contains(stdout, "DENIED "+conn) || !strings.Contains(stdout, why) {
		t.Errorf("learn --format kubernetes: exit %d, want 1 with %s denied because %q\n%s\n%s", code, conn, why, stdout, stderr)
	}
	report, err := os.ReadFile(filepath.Join(np, "REPORT.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(report), "FAIL") || !strings.Contains(string(report), why) {
		t.Errorf("REPORT.md does not fail the connection and say why:\n%s", report)
	}
	err = filepath.WalkDir(np, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		data, err := os.ReadFile(path)
		if err == nil && strings.Contains(string(data), "kubernetes.io/metadata.name: "+namespace) {
			t.Errorf("%s selects namespace %s by a label its identities do not carry:\n%s", path, namespace, data)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, _ = run(t, "", "verify", "--policies", np, "--from-file", capture)
	if code != 1 || !strings.Contains(stdout, "DENIED "+conn) || !strings.Contains(stdout, why) {
		t.Errorf("verify of the NetworkPolicies: exit %d, want 1 with the reason:\n%s", code, stdout)
	}

	code, stdout, stderr = run(t, "", "diff", "--policies", np, "--against", t.TempDir(), "--from-file", capture)
	if code != 1 || !strings.Contains(stdout, "newly denied: "+conn) || !strings.Contains(stdout, why) {
		t.Errorf("diff of the NetworkPolicies against none: exit %d, want 1 with %s newly denied and the reason\n%s\n%s", code, conn, stdout, stderr)
	}
	reports := t.TempDir()
	code, stdout, stderr = run(t, "", "drift", "--once", "--policies", np, "--from-file", capture, "--report-dir", reports, "--metrics-addr", "")
	md, _ := os.ReadFile(filepath.Join(reports, drift.MarkdownReport))
	if code != 1 || !strings.Contains(string(md), why) {
		t.Errorf("drift --once against the NetworkPolicies: exit %d, want 1 and the reason in the report\n%s\n%s\n%s", code, stdout, stderr, md)
	}

	cnp := t.TempDir()
	code, stdout, stderr = run(t, "", "learn", "--from-file", capture, "--format", "cilium", "--out", cnp)
	if code != 0 || strings.Contains(stdout, "DENIED") {
		t.Errorf("learn --format cilium: exit %d, want 0 with nothing denied\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, _ = run(t, "", "verify", "--policies", cnp, "--from-file", capture)
	if code != 0 {
		t.Errorf("verify of the CiliumNetworkPolicies: exit %d\n%s", code, stdout)
	}
}
