package drift

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	observerpb "github.com/cilium/cilium/api/v1/observer"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/netpolgen/netpolgen/pkg/synth"
)

func TestWriteFileAtomicReplacesWholeAndLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "report.md")
	for _, content := range []string{"first version, longer than the second\n", "second\n"} {
		if err := writeFileAtomic(p, []byte(content)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(p)
		if err != nil || string(got) != content {
			t.Fatalf("read %q, %v; want %q", got, err, content)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the report (no temp files left)", len(entries))
	}
	err := writeFileAtomic(filepath.Join(dir, "missing", "x.json"), []byte("{}"))
	if err == nil || !strings.Contains(err.Error(), filepath.Join("missing", "x.json")) {
		t.Errorf("writing into a missing directory: %v, want an error naming the file", err)
	}
}

func TestLoadState(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, path, wantErr string
		wantExisted         bool
	}{
		{"missing file is a fresh start", filepath.Join(dir, "none.json"), "", false},
		{"not JSON", write("bad.json", "{"), "bad.json", false},
		{"other version", write("v9.json", `{"version": 9}`), "version 9", false},
		{"empty state", write("ok.json", `{"version": 1, "flows": 3}`), "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, existed, err := LoadState(tc.path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || existed != tc.wantExisted || st == nil || st.RuleFirstKnown == nil || st.Reported == nil {
				t.Fatalf("LoadState = %+v, %v, %v", st, existed, err)
			}
		})
	}
}

// TestLostEventsAreGaps feeds a Hubble lost-events notice: the report shows
// it as a gap with its count, and the counter adds it up.
func TestLostEventsAreGaps(t *testing.T) {
	fx := shopBaseline(t, synth.FormatCilium)
	at := fx.end.Add(time.Minute)
	lost := &observerpb.GetFlowsResponse{Time: timestamppb.New(at), NodeName: "shop-worker-2",
		ResponseTypes: &observerpb.GetFlowsResponse_LostEvents{LostEvents: &flowpb.LostEvent{
			Source: flowpb.LostEventSource_HUBBLE_RING_BUFFER, NumEventsLost: 42,
			First: timestamppb.New(at.Add(-time.Second)), Last: timestamppb.New(at)}}}
	line, err := protojson.Marshal(lost)
	if err != nil {
		t.Fatal(err)
	}
	capture := fx.write(t, "lost.json", fx.baseline, line, []byte("\n"))
	r := fileRunner(t, []string{capture}, fx.policies, "", "")
	rep, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Gaps) != 1 || rep.Gaps[0].LostEvents != 42 || rep.Source.LostEvents != 42 {
		t.Fatalf("gaps %+v, lost %d; want one gap of 42 lost events", rep.Gaps, rep.Source.LostEvents)
	}
	if !strings.Contains(rep.Gaps[0].Cause, "Hubble ring buffer") {
		t.Errorf("gap cause %q does not say where events were lost", rep.Gaps[0].Cause)
	}
}
