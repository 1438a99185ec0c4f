package flowgen

import (
	"bufio"
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	observerpb "github.com/cilium/cilium/api/v1/observer"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/observe/capture"
)

func generate(t *testing.T, opts Options) ([]byte, *Truth) {
	t.Helper()
	var buf bytes.Buffer
	truth, err := Generate(Shop(), opts, &buf)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), truth
}

// Every generated line must be a valid GetFlowsResponse under the real
// schema (strict protojson: no unknown fields), and netpolgen's decoder
// must read it exactly as the generated types do.
func TestGeneratedLinesAreValidHubbleJSON(t *testing.T) {
	for _, camel := range []bool{false, true} {
		data, truth := generate(t, Options{Seed: 7, Duration: 10 * time.Minute, Camel: camel})
		dec := capture.NewDecoder()
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		var flows, lost uint64
		for n := 1; sc.Scan(); n++ {
			var resp observerpb.GetFlowsResponse
			if err := protojson.Unmarshal(sc.Bytes(), &resp); err != nil {
				t.Fatalf("camel=%v line %d is not valid GetFlowsResponse JSON: %v\n%s", camel, n, err, sc.Bytes())
			}
			var got observe.Record
			if err := dec.Decode(sc.Bytes(), &got); err != nil {
				t.Fatalf("line %d: %v", n, err)
			}
			switch {
			case resp.GetFlow() != nil:
				flows++
				want := observe.FromProto(resp.GetFlow())
				if diff := cmp.Diff(want, got.Flow, cmpopts.EquateComparable(netip.Addr{}), cmpopts.EquateEmpty()); diff != "" {
					t.Fatalf("line %d differs (-protojson +netpolgen):\n%s", n, diff)
				}
			case resp.GetLostEvents() != nil:
				lost += resp.GetLostEvents().GetNumEventsLost()
			default:
				t.Fatalf("line %d holds neither a flow nor lost events", n)
			}
		}
		if flows != truth.Flows || lost != truth.LostEvents {
			t.Errorf("camel=%v: read %d flows and %d lost events, truth says %d and %d", camel, flows, lost, truth.Flows, truth.LostEvents)
		}
		if flows < 1000 {
			t.Errorf("only %d flows in 10 minutes of the shop scenario", flows)
		}
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	a, _ := generate(t, Options{Seed: 3, Duration: 5 * time.Minute})
	b, _ := generate(t, Options{Seed: 3, Duration: 5 * time.Minute})
	c, _ := generate(t, Options{Seed: 4, Duration: 5 * time.Minute})
	if !bytes.Equal(a, b) {
		t.Error("the same seed gave different captures")
	}
	if bytes.Equal(a, c) {
		t.Error("different seeds gave the same capture")
	}
}

// The capture must hold the shapes the later stages are judged on.
func TestShopCaptureHasTheHardCases(t *testing.T) {
	data, truth := generate(t, Options{Seed: 1, Duration: 30 * time.Minute})
	src := capture.NewSource([]string{"-"}, capture.Options{Stdin: bytes.NewReader(data), Strict: true})
	var sawPodIndex, sawTemplateHash, sawNoIsReply, sawDrop, sawDNSAnswer, sawHost, sawAPIServer, sawWorld, sawService bool
	for {
		rec, err := src.Next(t.Context())
		if err != nil {
			break
		}
		if rec.Kind != observe.KindFlow {
			continue
		}
		f := &rec.Flow
		for _, l := range f.Source.Labels {
			sawPodIndex = sawPodIndex || l == "k8s:apps.kubernetes.io/pod-index=0"
			sawTemplateHash = sawTemplateHash || strings.HasPrefix(l, "k8s:pod-template-hash=")
		}
		sawNoIsReply = sawNoIsReply || f.IsReply == observe.ReplyUnknown
		sawDrop = sawDrop || f.Verdict.String() == "DROPPED"
		sawDNSAnswer = sawDNSAnswer || (f.L7 != nil && f.L7.DNS != nil && len(f.L7.DNS.IPs) > 0)
		sawHost = sawHost || (len(f.Source.Labels) == 1 && f.Source.Labels[0] == "reserved:host")
		sawAPIServer = sawAPIServer || (len(f.Destination.Labels) == 1 && f.Destination.Labels[0] == "reserved:kube-apiserver")
		sawWorld = sawWorld || len(f.DestinationNames) > 0
		sawService = sawService || (f.DestinationService.Name != "" && f.L4.DstPort != 53)
	}
	for name, ok := range map[string]bool{
		"pod-index labels": sawPodIndex, "pod-template-hash labels": sawTemplateHash, "flows without is_reply": sawNoIsReply, "policy drops": sawDrop,
		"DNS answers": sawDNSAnswer, "host probes": sawHost, "kube-apiserver calls": sawAPIServer,
		"named world egress": sawWorld, "Service-fronted calls": sawService,
	} {
		if !ok {
			t.Errorf("capture has no %s", name)
		}
	}
	if truth.LostEvents == 0 || src.Stats().LostNotices != 1 {
		t.Errorf("want one lost_events notice, got %d (truth %d events)", src.Stats().LostNotices, truth.LostEvents)
	}
	var denied, udpHigh int
	for _, c := range truth.Connections {
		if c.Denied {
			denied++
		}
		if c.Protocol == "UDP" && c.Port > 1023 {
			udpHigh++
		}
	}
	if denied != 1 || udpHigh != 1 {
		t.Errorf("truth: %d denied connections and %d UDP connections above 1023, want 1 and 1", denied, udpHigh)
	}
}

func TestValidateRejectsBrokenScenarios(t *testing.T) {
	tests := map[string]func(*Scenario){
		"no nodes":          func(s *Scenario) { s.Nodes = nil },
		"unknown workload":  func(s *Scenario) { s.Calls[0].To = Peer{Kind: PeerWorkload, Workload: 99} },
		"no port":           func(s *Scenario) { s.Calls[1].Port = 0 },
		"zero rate":         func(s *Scenario) { s.Calls[1].PerHour = 0 },
		"one-way TCP":       func(s *Scenario) { s.Calls[1].OneWay = true },
		"world without IPs": func(s *Scenario) { s.Calls[0].From.IPs = nil },
		"bad DNS index":     func(s *Scenario) { s.DNS = 99 },
	}
	for name, breakIt := range tests {
		t.Run(name, func(t *testing.T) {
			s := Shop()
			breakIt(s)
			if err := s.Validate(); err == nil {
				t.Error("Validate accepted a broken scenario")
			}
		})
	}
	if err := Shop().Validate(); err != nil {
		t.Errorf("the shop scenario is invalid: %v", err)
	}
}

func TestFlowCountCapture(t *testing.T) {
	var buf bytes.Buffer
	truth, err := Generate(Shop(), Options{Seed: 2, MaxFlows: 20000}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	// A connection's flows stay together, so the count overshoots by at
	// most one connection.
	if truth.Flows < 20000 || truth.Flows > 20100 {
		t.Errorf("wrote %d flows, want about 20000", truth.Flows)
	}
	if truth.LostEvents == 0 {
		t.Error("the lost-events notice fell outside a flow-count capture")
	}
	if _, err := Generate(Shop(), Options{Seed: 2}, &buf); err == nil {
		t.Error("neither a duration nor a flow count was refused")
	}
}
