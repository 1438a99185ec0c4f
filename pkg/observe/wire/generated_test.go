package wire

import (
	"bufio"
	"bytes"
	"fmt"
	"testing"
	"time"

	observerpb "github.com/cilium/cilium/api/v1/observer"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/netpolgen/netpolgen/internal/flowgen"
	"github.com/netpolgen/netpolgen/internal/observetest"
	"github.com/netpolgen/netpolgen/internal/sharedflows"
	"github.com/netpolgen/netpolgen/pkg/observe"
)

// generatedResponses is the project's own generator's capture of the
// shop and L7 scenarios (every L3/L4 and L7 field it writes) as generated
// GetFlowsResponses: it seeds the wire decoder's differential test and
// fuzz target on a clean clone, where ../shared is absent.
func generatedResponses(tb testing.TB) (names []string, resps []*observerpb.GetFlowsResponse) {
	tb.Helper()
	for _, sc := range []struct {
		name     string
		scenario *flowgen.Scenario
	}{{"shop", flowgen.Shop()}, {"l7", flowgen.L7()}} {
		var buf bytes.Buffer
		if _, err := flowgen.Generate(sc.scenario, flowgen.Options{Seed: 17, Duration: 2 * time.Minute}, &buf); err != nil {
			tb.Fatal(err)
		}
		lines := bufio.NewScanner(&buf)
		lines.Buffer(nil, 1<<20)
		for n := 1; lines.Scan(); n++ {
			var r observerpb.GetFlowsResponse
			if err := protojson.Unmarshal(lines.Bytes(), &r); err != nil {
				tb.Fatalf("flowgen %s line %d: %v", sc.name, n, err)
			}
			names = append(names, fmt.Sprintf("flowgen %s:%d", sc.name, n))
			resps = append(resps, &r)
		}
	}
	if len(resps) < 100 {
		tb.Fatalf("the generator wrote only %d records", len(resps))
	}
	return names, resps
}

func TestWireDecodeMatchesFromProtoOnGeneratedFlows(t *testing.T) {
	names, resps := generatedResponses(t)
	wireMatchesFromProto(t, names, resps)
}

// FuzzWireDecode holds the wire decoder to FromProto on mutations of the
// generator's records, and of the shared captures' when ../shared is
// there.
func FuzzWireDecode(f *testing.F) {
	// A sample of each capture covers every kind of record in it and
	// keeps gathering the baseline coverage well within `make fuzz`'s
	// -fuzztime (the whole corpus took longer than that).
	_, all := generatedResponses(f)
	if _, err := sharedflows.Lookup(); err == nil {
		_, shared := observetest.SharedResponses(f)
		all = append(all, shared...)
	}
	for i := 0; i < len(all); i += 24 {
		data, _ := proto.Marshal(all[i])
		f.Add(data)
	}
	f.Add([]byte{0x0a, 0x00})
	dec := NewDecoder()
	f.Fuzz(func(t *testing.T, data []byte) {
		var got observe.Record
		err := dec.Decode(data, &got)
		var r observerpb.GetFlowsResponse
		if proto.Unmarshal(data, &r) != nil || err != nil {
			return
		}
		// Messages that repeat a field rely on merge rules the fast path
		// does not copy (it keeps the last endpoint), so compare only
		// when re-marshalling gives the same bytes: one of each field.
		if again, _ := (proto.MarshalOptions{Deterministic: true}).Marshal(&r); !bytes.Equal(again, data) {
			return
		}
		if diff := cmp.Diff(observetest.ReferenceResponse(&r), got, observetest.FlowCmp()...); diff != "" {
			t.Fatalf("wire decode differs from FromProto (-want +got):\n%s", diff)
		}
	})
}
