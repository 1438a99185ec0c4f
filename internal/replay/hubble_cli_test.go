package replay

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"go/build"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	observerpb "github.com/cilium/cilium/api/v1/observer"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/netpolgen/netpolgen/internal/sharedflows"
)

// hubbleCLI finds the hubble CLI that `make hubble` builds for the cilium
// version in go.mod, or skips saying how to get it.
func hubbleCLI(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("NETPOLGEN_HUBBLE"); p != "" {
		return p
	}
	version, err := ciliumVersion()
	if err != nil {
		t.Fatalf("cannot tell which hubble CLI to run: %v", err)
	}
	gopath := build.Default.GOPATH
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		gopath = strings.TrimSpace(string(out))
	}
	path := filepath.Join(gopath, "netpolgen-tools", "hubble-"+version)
	if _, err := os.Stat(path); err != nil {
		t.Skipf("hubble CLI %s is not built (%s absent): run `make hubble`", version, path)
	}
	return path
}

// ciliumVersion reads the cilium module version pinned in go.mod.
func ciliumVersion() (string, error) {
	data, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "github.com/cilium/cilium" {
			return f[1], nil
		}
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "require" && f[1] == "github.com/cilium/cilium" {
			return f[2], nil
		}
	}
	return "", fmt.Errorf("go.mod does not require github.com/cilium/cilium")
}

// TestHubbleCLIReadsReplay runs the real hubble CLI against netpolgen
// replay: what it prints must be exactly the capture's flows.
func TestHubbleCLIReadsReplay(t *testing.T) {
	hubble := hubbleCLI(t)
	path := sharedflows.Path(t, "bookinfo-kind/basic-sample-400-tcp-flows.json")
	capture, addr := serveCapture(t, path, Options{})

	inNamespace := func(ns string) func(*observerpb.GetFlowsResponse) bool {
		return func(r *observerpb.GetFlowsResponse) bool {
			return r.GetFlow().GetSource().GetNamespace() == ns || r.GetFlow().GetDestination().GetNamespace() == ns
		}
	}
	tests := []struct {
		name string
		args []string
		keep func(*observerpb.GetFlowsResponse) bool
		last int
	}{
		{name: "last 50", args: []string{"--last", "50"}, last: 50},
		{name: "all", args: []string{"--all"}, last: len(capture.Events)},
		{name: "namespace", args: []string{"--last", "40", "--namespace", "kube-system"}, keep: inNamespace("kube-system"), last: 40},
		{
			name: "verdict", args: []string{"--last", "30", "--verdict", "REDIRECTED"}, last: 30,
			keep: func(r *observerpb.GetFlowsResponse) bool { return r.GetFlow().GetVerdict().String() == "REDIRECTED" },
		},
		{
			name: "label", args: []string{"--last", "1000", "--from-label", "k8s:app=reviews"}, last: 1000,
			keep: func(r *observerpb.GetFlowsResponse) bool {
				for _, l := range r.GetFlow().GetSource().GetLabels() {
					if l == "k8s:app=reviews" {
						return true
					}
				}
				return false
			},
		},
	}
	tests = append(tests, []struct {
		name string
		args []string
		keep func(*observerpb.GetFlowsResponse) bool
		last int
	}{
		{
			name: "first", args: []string{"--first", "7"}, last: 7,
			keep: func(r *observerpb.GetFlowsResponse) bool { return !r.GetTime().AsTime().After(capture.Events[6].Time) },
		},
		{
			name: "since and until",
			args: []string{"--since", capture.Events[100].Time.Format(time.RFC3339Nano), "--until", capture.Events[149].Time.Format(time.RFC3339Nano)},
			keep: func(r *observerpb.GetFlowsResponse) bool {
				ts := r.GetTime().AsTime()
				return !ts.Before(capture.Events[100].Time) && !ts.After(capture.Events[149].Time)
			},
			last: len(capture.Events),
		},
	}...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want []*observerpb.GetFlowsResponse
			for _, ev := range capture.Events {
				if tt.keep == nil || tt.keep(ev.Resp) {
					want = append(want, ev.Resp)
				}
			}
			if len(want) > tt.last {
				want = want[len(want)-tt.last:]
			}
			if len(want) == 0 {
				t.Fatal("the test selects no flows of the capture: it could not fail")
			}
			got := runHubble(t, hubble, append([]string{"observe", "--server", addr, "-o", "jsonpb"}, tt.args...))
			if len(got) != len(want) {
				t.Fatalf("hubble printed %d flows, the capture holds %d", len(got), len(want))
			}
			for i := range want {
				if !proto.Equal(got[i], want[i]) {
					t.Fatalf("flow %d differs:\nhubble printed %v\ncapture holds  %v", i, got[i], want[i])
				}
			}
		})
	}
}

// TestHubbleCLIFilters runs hubble observe with filters the hand-written
// engine used to refuse, as the CLI builds them from its flags.
func TestHubbleCLIFilters(t *testing.T) {
	hubble := hubbleCLI(t)
	capture, addr := serveCapture(t, l7Capture(t), Options{})
	// flowgen writes some flows out of time order; the server sends them
	// in time order, as a ring buffer fills.
	events := slices.Clone(capture.Events)
	slices.SortStableFunc(events, func(a, b Event) int { return a.Time.Compare(b.Time) })
	tests := []struct {
		args []string
		keep func(*flowpb.Flow) bool
	}{
		{[]string{"--http-method", "get", "--http-path", "^/api/v1/users"}, func(f *flowpb.Flow) bool {
			return f.GetL7().GetHttp().GetMethod() == "GET" && strings.Contains(f.GetL7().GetHttp().GetUrl(), ":80/api/v1/users")
		}},
		{[]string{"--to-workload", "orders", "--tcp-flags", "SYN"}, func(f *flowpb.Flow) bool {
			return hasWorkload(f.GetDestination(), "orders") && f.GetL4().GetTCP().GetFlags().GetSYN()
		}},
		{[]string{"--node-label", "topology.kubernetes.io/zone=zone-a", "--traffic-direction", "egress"}, func(f *flowpb.Flow) bool {
			return f.GetNodeName() == "l7-worker-1" && f.GetTrafficDirection() == flowpb.TrafficDirection_EGRESS
		}},
		{[]string{"--to-fqdn", "api.stripe.com"}, func(f *flowpb.Flow) bool {
			return slices.Contains(f.GetDestinationNames(), "api.stripe.com")
		}},
		{[]string{"--cel-expression", "_flow.l7.dns.query.endsWith('.example.net.')"}, func(f *flowpb.Flow) bool {
			return strings.HasSuffix(f.GetL7().GetDns().GetQuery(), ".example.net.")
		}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var want []*observerpb.GetFlowsResponse
			for _, ev := range events {
				if tt.keep(ev.Resp.GetFlow()) {
					want = append(want, ev.Resp)
				}
			}
			if len(want) == 0 {
				t.Fatal("the test selects no flows of the capture: it could not fail")
			}
			got := runHubble(t, hubble, append([]string{"observe", "--server", addr, "-o", "jsonpb", "--all"}, tt.args...))
			if len(got) != len(want) {
				t.Fatalf("hubble printed %d flows, want %d", len(got), len(want))
			}
			for i := range want {
				if !proto.Equal(got[i], want[i]) {
					t.Fatalf("flow %d differs:\nhubble printed %v\nwant           %v", i, got[i], want[i])
				}
			}
		})
	}
}

// TestHubbleCLIFollowsPacedReplay follows a paced replay with the hubble
// CLI: every flow arrives, as it is released.
func TestHubbleCLIFollowsPacedReplay(t *testing.T) {
	hubble := hubbleCLI(t)
	path := sharedflows.Path(t, "bookinfo-kind/basic-sample-400-udp-flows.json")
	capture, addr := serveCapture(t, path, Options{Rate: 2000})
	// hubble sends no --until with --follow, so read until every flow
	// arrived, then stop it.
	start := time.Now()
	got := followHubble(t, hubble, len(capture.Events), []string{"observe", "--server", addr, "-o", "jsonpb",
		"--follow", "--since", capture.Events[0].Time.Format(time.RFC3339Nano)})
	for i, ev := range capture.Events {
		if !proto.Equal(got[i], ev.Resp) {
			t.Fatalf("flow %d differs:\nhubble printed %v\ncapture holds  %v", i, got[i], ev.Resp)
		}
	}
	// 400 flows at 2000/s are released over 200ms.
	if elapsed := time.Since(start); elapsed < 150*time.Millisecond {
		t.Errorf("followed 400 paced flows in %v: pacing not applied", elapsed)
	}
}

// TestHubbleCLITextOutput runs hubble observe with its default compact
// output, for which it asks for a field mask, and with a custom mask.
func TestHubbleCLITextOutput(t *testing.T) {
	hubble := hubbleCLI(t)
	path := sharedflows.Path(t, "bookinfo-kind/basic-sample-400-tcp-flows.json")
	capture, addr := serveCapture(t, path, Options{})

	out := runHubbleText(t, hubble, []string{"observe", "--server", addr, "--last", "5"})
	if lines := strings.Count(out, "\n"); lines != 5 || !strings.Contains(out, "bookinfo/") {
		t.Errorf("hubble observe --last 5 printed %d lines:\n%s", lines, out)
	}

	got := runHubble(t, hubble, []string{"observe", "--server", addr, "-o", "jsonpb", "--last", "3", "--field-mask", "time,verdict,source.pod_name"})
	if len(got) != 3 {
		t.Fatalf("hubble printed %d flows, want 3", len(got))
	}
	for i, r := range got {
		src := capture.Events[len(capture.Events)-3+i].Resp
		want := &observerpb.GetFlowsResponse{
			NodeName: src.GetNodeName(), Time: src.GetTime(),
			ResponseTypes: &observerpb.GetFlowsResponse_Flow{Flow: &flowpb.Flow{
				Time: src.GetFlow().GetTime(), Verdict: src.GetFlow().GetVerdict(),
				Source: &flowpb.Endpoint{PodName: src.GetFlow().GetSource().GetPodName()},
			}},
		}
		if !proto.Equal(r, want) {
			t.Errorf("masked flow %d:\nhubble printed %v\nwant          %v", i, r, want)
		}
	}
}

// TestHubbleCLIStatusAndNodes checks ServerStatus, the health service and
// GetNodes through hubble status and hubble list nodes.
func TestHubbleCLIStatusAndNodes(t *testing.T) {
	hubble := hubbleCLI(t)
	path := sharedflows.Path(t, "bookinfo-kind/basic-sample-400-tcp-flows.json")
	_, addr := serveCapture(t, path, Options{})
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{args: []string{"status"}, want: []string{"Healthcheck", "Ok", "Current/Max Flows: 400/400", "Connected Nodes: 1"}},
		{args: []string{"list", "nodes"}, want: []string{"kind-control-plane", "Connected", "400/400"}},
		{args: []string{"list", "namespaces"}, want: []string{"bookinfo", "kube-system"}},
	} {
		out := runHubbleText(t, hubble, append(tt.args, "--server", addr))
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("hubble %s printed %q, which lacks %q", strings.Join(tt.args, " "), out, w)
			}
		}
	}
}

// followHubble runs a following hubble observe until it printed n
// flows, then stops it.
func followHubble(t *testing.T, hubble string, n int, args []string) []*observerpb.GetFlowsResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, hubble, args...)
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	var out []*observerpb.GetFlowsResponse
	sc := bufio.NewScanner(stdout)
	sc.Buffer(nil, 16<<20)
	for len(out) < n && sc.Scan() {
		var r observerpb.GetFlowsResponse
		if err := protojson.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("hubble printed a line that is not a GetFlowsResponse: %v\n%s", err, sc.Text())
		}
		out = append(out, &r)
	}
	if len(out) < n {
		t.Fatalf("hubble %s ended after %d of %d flows: %s", strings.Join(args, " "), len(out), n, stderr.String())
	}
	return out
}

// runHubble runs the hubble CLI and parses its jsonpb output.
func runHubble(t *testing.T, hubble string, args []string) []*observerpb.GetFlowsResponse {
	t.Helper()
	var out []*observerpb.GetFlowsResponse
	sc := bufio.NewScanner(strings.NewReader(runHubbleText(t, hubble, args)))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var r observerpb.GetFlowsResponse
		if err := protojson.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("hubble printed a line that is not a GetFlowsResponse: %v\n%s", err, sc.Text())
		}
		out = append(out, &r)
	}
	return out
}

// runHubbleText runs the hubble CLI with a clean home (no user config)
// and returns what it printed.
func runHubbleText(t *testing.T, hubble string, args []string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, hubble, args...)
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("hubble %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// serveCapture loads a capture and serves it on 127.0.0.1 until the test
// ends.
func serveCapture(t *testing.T, path string, opts Options) (*Capture, string) {
	t.Helper()
	capture, err := LoadCapture(path)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := NewServer(capture, opts).NewGRPCServer()
	go g.Serve(lis)
	t.Cleanup(g.Stop)
	return capture, lis.Addr().String()
}
