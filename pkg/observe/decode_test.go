package observe

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	observerpb "github.com/cilium/cilium/api/v1/observer"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/netpolgen/netpolgen/internal/sharedflows"
)

var flowCmp = []cmp.Option{cmpopts.EquateComparable(netip.Addr{}), cmpopts.EquateEmpty()}

// referenceDecode decodes one record the slow, obviously correct way:
// protojson into the generated message, then FromProto.
func referenceDecode(t testing.TB, line []byte) (Record, error) {
	t.Helper()
	opts := protojson.UnmarshalOptions{DiscardUnknown: true}
	var ev observerpb.ExportEvent
	if err := opts.Unmarshal(line, &ev); err == nil && (ev.GetFlow() != nil || ev.GetLostEvents() != nil || ev.GetNodeStatus() != nil || ev.GetAgentEvent() != nil || ev.GetDebugEvent() != nil) {
		var rec Record
		switch {
		case ev.GetFlow() != nil:
			rec.Kind, rec.Flow = KindFlow, FromProto(ev.GetFlow())
			if rec.Flow.NodeName == "" {
				rec.Flow.NodeName = ev.GetNodeName()
			}
			if rec.Flow.Time.IsZero() && ev.GetTime() != nil {
				rec.Flow.Time = ev.GetTime().AsTime()
			}
		case ev.GetLostEvents() != nil:
			rec.Kind, rec.Lost = KindLostEvents, LostFromProto(ev.GetLostEvents())
			rec.Lost.NodeName = ev.GetNodeName()
			if ev.GetTime() != nil {
				rec.Lost.Time = ev.GetTime().AsTime()
			}
		case ev.GetNodeStatus() != nil:
			rec.Kind = KindNodeStatus
		case ev.GetAgentEvent() != nil:
			rec.Kind = KindAgentEvent
		case ev.GetDebugEvent() != nil:
			rec.Kind = KindDebugEvent
		}
		return rec, nil
	}
	var f flowpb.Flow
	if err := opts.Unmarshal(line, &f); err != nil {
		return Record{}, err
	}
	return Record{Kind: KindFlow, Flow: FromProto(&f)}, nil
}

func TestDecodeMatchesProtojsonOnSharedCaptures(t *testing.T) {
	dir := sharedflows.Dir(t)
	files, _ := filepath.Glob(filepath.Join(dir, "bookinfo-kind", "*.json"))
	if len(files) == 0 {
		t.Skipf("no captures in %s", filepath.Join(dir, "bookinfo-kind"))
	}
	dec := NewDecoder()
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		n := 0
		for sc.Scan() {
			n++
			line := sc.Bytes()
			want, err := referenceDecode(t, line)
			if err != nil {
				t.Fatalf("%s:%d: protojson: %v", file, n, err)
			}
			var got Record
			if err := dec.Decode(line, &got); err != nil {
				t.Fatalf("%s:%d: %v", file, n, err)
			}
			if diff := cmp.Diff(want, got, flowCmp...); diff != "" {
				t.Fatalf("%s:%d: decode differs from protojson (-want +got):\n%s", file, n, diff)
			}
		}
	}
}

// TestSlotCacheStaysBounded: a stream with more distinct keys than the
// cache holds grows it to its limit and no further, keeps hitting what it
// saw last, and never reads an unused slot as a hit.
func TestSlotCacheStaysBounded(t *testing.T) {
	c := newSlotCache[int](3000) // rounds up to 4096
	if _, hit := c.lookup(nil); hit {
		t.Fatal("the empty key hit an unused slot")
	}
	for i := 0; i < 100000; i++ {
		k := fmt.Sprintf("key-%d", i)
		s, hit := c.lookup([]byte(k))
		if hit {
			t.Fatalf("%s hit before it was stored", k)
		}
		fill(s, k, i)
		if s, hit := c.lookup([]byte(k)); !hit || s.val != i {
			t.Fatalf("%s: just stored, lookup = %v, %v", k, s.val, hit)
		}
	}
	if len(c.slots) != 4096 {
		t.Errorf("cache has %d slots, want its limit 4096", len(c.slots))
	}
	hits := 0
	for i := 100000 - 1000; i < 100000; i++ {
		if s, hit := c.lookup([]byte(fmt.Sprintf("key-%d", i))); hit && s.val == i {
			hits++
		}
	}
	// 1000 recent keys in 4096 direct-mapped slots: about 11% collide.
	if hits < 800 {
		t.Errorf("only %d of the last 1000 keys are still cached", hits)
	}
	in := newInterner(2)
	for _, s := range []string{"x", "y", "z", "x", ""} {
		if got := in.get([]byte(s)); got != s {
			t.Errorf("interned %q as %q", s, got)
		}
	}
}
