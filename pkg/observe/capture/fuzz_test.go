package capture

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"testing"

	observerpb "github.com/cilium/cilium/api/v1/observer"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/netpolgen/netpolgen/internal/observetest"
	"github.com/netpolgen/netpolgen/internal/sharedflows"
	"github.com/netpolgen/netpolgen/pkg/observe"
)

// seedLines feeds the fuzzer real shapes: a few lines of each shared
// capture when present, and hand-written edge cases.
func seedLines(f *testing.F) {
	for _, s := range []string{
		`{"flow":{"time":"2026-01-05T08:00:00.1Z","verdict":"FORWARDED","IP":{"source":"10.0.0.1","destination":"10.0.0.2","ipVersion":"IPv4"},"l4":{"TCP":{"source_port":40000,"destination_port":80,"flags":{"SYN":true}}},"source":{"identity":5,"namespace":"a","labels":["k8s:app=x"]},"is_reply":false},"node_name":"n"}`,
		`{"flow":{"l4":{"UDP":{"sourcePort":"53","destinationPort":1e3}},"isReply":null,"l7":{"type":"RESPONSE","dns":{"query":"a.b.","ips":["::1","1.2.3.4"],"ttl":30}}}}`,
		`{"lost_events":{"source":"HUBBLE_RING_BUFFER","num_events_lost":"12","cpu":{"value":1}}}`,
		`{"time":"2021-02-18T00:25:31.813293543Z","verdict":2,"reply":true,"source":{"labels":["reserved:world"]}}`,
		`{"flow":{"source":{"labels":["\u00e9\ud83d\ude00","a\"b"]}}}`,
		`{"flow":{"Type":"L7","l7":{"http":{"code":200,"method":"GET","url":"/x"}}}}`,
	} {
		f.Add([]byte(s))
	}
	shared, err := sharedflows.Lookup()
	if err != nil {
		return
	}
	files, _ := filepath.Glob(filepath.Join(shared, "bookinfo-kind", "*.json"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		for i := 0; i < 20 && sc.Scan(); i++ {
			f.Add(append([]byte(nil), sc.Bytes()...))
		}
	}
}

// FuzzDecode checks that the decoder never panics, and that whenever both
// it and protojson accept a record, they read the same flow.
func FuzzDecode(f *testing.F) {
	seedLines(f)
	dec := NewDecoder()
	f.Fuzz(func(t *testing.T, line []byte) {
		var got observe.Record
		err := dec.Decode(line, &got)
		var resp observerpb.GetFlowsResponse
		if perr := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(line, &resp); perr != nil || err != nil || resp.GetFlow() == nil {
			return
		}
		if got.Kind != observe.KindFlow {
			t.Fatalf("protojson read a flow, netpolgen read %v", got.Kind)
		}
		want := observe.FromProto(resp.GetFlow())
		if want.NodeName == "" {
			want.NodeName = resp.GetNodeName()
		}
		if want.Time.IsZero() && resp.GetTime() != nil {
			want.Time = resp.GetTime().AsTime()
		}
		// Both read the same instant; the location pointer may differ.
		if want.Time.Equal(got.Flow.Time) {
			got.Flow.Time = want.Time
		}
		if diff := cmp.Diff(want, got.Flow, observetest.FlowCmp()...); diff != "" {
			t.Fatalf("decoders disagree (-protojson +netpolgen):\n%s", diff)
		}
	})
}
