package observe

import (
	"bufio"
	"bytes"
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

// The caches stay within their limit and keep working past it: a stream
// with more distinct pods than the cache holds decodes exactly as one
// with few.
func TestRecentMapStartsOverWhenFull(t *testing.T) {
	c := newRecentMap[int](3)
	for i, k := range []string{"a", "b", "c", "d"} {
		c.put(k, i)
	}
	if len(c.m) > 3 {
		t.Fatalf("cache holds %d entries, limit 3", len(c.m))
	}
	if v, ok := c.get([]byte("d")); !ok || v != 3 {
		t.Errorf("the newest entry is gone: %v %v", v, ok)
	}
	if _, ok := c.get([]byte("a")); ok {
		t.Error("an entry from before the restart survived")
	}
	in := newInterner(2)
	for _, s := range []string{"x", "y", "z", "x"} {
		if got := in.get([]byte(s)); got != s {
			t.Errorf("interned %q as %q", s, got)
		}
	}
}
