package capture_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	observerpb "github.com/cilium/cilium/api/v1/observer"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/netpolgen/netpolgen/internal/flowgen"
	"github.com/netpolgen/netpolgen/internal/sharedflows"
	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/observe/capture"
)

// counts is what reading a capture must yield.
type counts struct {
	flows, lostNotices, lostEvents, malformed uint64
	skipped                                   map[observe.Kind]uint64
}

func readAll(t *testing.T, paths []string, opts capture.Options) (counts, []*capture.LineError, error) {
	t.Helper()
	var malformed []*capture.LineError
	opts.OnMalformed = func(e *capture.LineError) { malformed = append(malformed, e) }
	src := capture.NewSource(paths, opts)
	defer src.Close()
	var c counts
	for {
		rec, err := src.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return c, malformed, err
		}
		if rec.Kind == observe.KindFlow {
			c.flows++
		}
	}
	st := src.Stats()
	if st.Flows != c.flows {
		t.Errorf("Stats().Flows = %d, but Next returned %d flows", st.Flows, c.flows)
	}
	c.lostNotices, c.lostEvents, c.malformed, c.skipped = st.LostNotices, st.TotalLost(), st.Malformed, st.Skipped
	return c, malformed, nil
}

func TestSharedCapturesExactCounts(t *testing.T) {
	tests := []struct {
		file  string
		flows uint64
	}{
		{"bookinfo-kind/basic-sample-400-tcp-flows.json", 400},
		{"bookinfo-kind/basic-sample-400-udp-flows.json", 400},
		{"bookinfo-kind/basic-sample-400-l7-redirected-flows.json", 400},
		{"bookinfo-kind/basic-sample-400-icmpv4-flows.json", 18},
		// A pretty-printed JSON array of bare legacy Flow objects.
		{"multiubuntu-gke/flows-template-verbose.json", 16},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, _, err := readAll(t, []string{sharedflows.Path(t, tt.file)}, capture.Options{Strict: true})
			if err != nil {
				t.Fatal(err)
			}
			if got.flows != tt.flows || got.malformed != 0 || got.lostNotices != 0 {
				t.Errorf("got %d flows, %d malformed, %d lost notices; want %d, 0, 0", got.flows, got.malformed, got.lostNotices, tt.flows)
			}
		})
	}
}

// shopCapture is a generated capture and its truth, shared by the shape tests.
func shopCapture(t *testing.T, camel bool) ([]byte, *flowgen.Truth) {
	t.Helper()
	var buf bytes.Buffer
	truth, err := flowgen.Generate(flowgen.Shop(), flowgen.Options{Seed: 11, Duration: 5 * time.Minute, Camel: camel}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), truth
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func gzipped(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// bareFlows turns GetFlowsResponse lines into bare Flow JSON objects, as
// Hubble <= 0.10 printed them; lost-event lines are dropped.
func bareFlows(t *testing.T, data []byte) [][]byte {
	t.Helper()
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var resp observerpb.GetFlowsResponse
		if err := protojson.Unmarshal(sc.Bytes(), &resp); err != nil {
			t.Fatal(err)
		}
		if resp.GetFlow() == nil {
			continue
		}
		b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(resp.GetFlow())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func TestFileShapes(t *testing.T) {
	snake, truth := shopCapture(t, false)
	camel, _ := shopCapture(t, true)
	bare := bareFlows(t, snake)
	flows, lost := truth.Flows, truth.LostEvents
	if uint64(len(bare)) != flows {
		t.Fatalf("%d bare flows for %d generated", len(bare), flows)
	}
	compactArray := append(append([]byte("["), bytes.Join(bare, []byte(","))...), ']')
	var prettyArray bytes.Buffer
	if err := json.Indent(&prettyArray, compactArray, "", "  "); err != nil {
		t.Fatal(err)
	}
	var prettyStream bytes.Buffer
	for _, b := range bare {
		json.Indent(&prettyStream, b, "", "  ")
		prettyStream.WriteByte('\n')
	}
	nonFlow := strings.Join([]string{
		`{"node_status":{"state_change":"NODE_CONNECTED","node_names":["a"]},"node_name":"a","time":"2026-01-05T08:00:00Z"}`,
		`{"agent_event":{"type":"AGENT_STARTED","agent_start":{"time":"2026-01-05T08:00:00Z"}},"node_name":"a"}`,
		`{"debug_event":{"type":"DBG_GENERIC","message":"x"},"node_name":"a"}`,
		`{"rate_limit_info":{"num_events":5},"node_name":"a"}`,
		`{"lostEvents":{"source":"PERF_EVENT_RING_BUFFER","numEventsLost":"7","cpu":1},"nodeName":"a"}`,
	}, "\n") + "\n"
	oneFlow := bytes.SplitN(snake, []byte("\n"), 2)[0]

	tests := []struct {
		name  string
		files map[string][]byte // written in name order
		stdin []byte
		want  counts
	}{
		{name: "jsonpb lines", files: map[string][]byte{"a.json": snake}, want: counts{flows: flows, lostNotices: 1, lostEvents: lost}},
		{name: "lowerCamel keys", files: map[string][]byte{"a.json": camel}, want: counts{flows: flows, lostNotices: 1, lostEvents: lost}},
		{name: "gzip", files: map[string][]byte{"a.json.gz": gzipped(t, snake)}, want: counts{flows: flows, lostNotices: 1, lostEvents: lost}},
		{name: "gzip without the suffix", files: map[string][]byte{"a.json": gzipped(t, snake)}, want: counts{flows: flows, lostNotices: 1, lostEvents: lost}},
		{name: "stdin", stdin: snake, want: counts{flows: flows, lostNotices: 1, lostEvents: lost}},
		{name: "gzip on stdin", stdin: gzipped(t, snake), want: counts{flows: flows, lostNotices: 1, lostEvents: lost}},
		{name: "bare flow lines", files: map[string][]byte{"a.json": append(bytes.Join(bare, []byte("\n")), '\n')}, want: counts{flows: flows}},
		{name: "compact array", files: map[string][]byte{"a.json": compactArray}, want: counts{flows: flows}},
		{name: "pretty array", files: map[string][]byte{"a.json": prettyArray.Bytes()}, want: counts{flows: flows}},
		{name: "pretty object stream", files: map[string][]byte{"a.json": prettyStream.Bytes()}, want: counts{flows: flows}},
		{name: "several files in order", files: map[string][]byte{"1.json": snake, "2.json.gz": gzipped(t, camel)}, want: counts{flows: 2 * flows, lostNotices: 2, lostEvents: 2 * lost}},
		{name: "mixed non-flow records", files: map[string][]byte{"a.json": append([]byte(nonFlow), snake...)},
			want: counts{flows: flows, lostNotices: 2, lostEvents: lost + 7, skipped: map[observe.Kind]uint64{
				observe.KindNodeStatus: 1, observe.KindAgentEvent: 1, observe.KindDebugEvent: 1, observe.KindRateLimitInfo: 1}}},
		{name: "blank lines and CRLF", files: map[string][]byte{"a.json": []byte("\r\n\n" + string(oneFlow) + "\r\n\n\n" + string(oneFlow) + "\r\n")}, want: counts{flows: 2}},
		{name: "truncated last line", files: map[string][]byte{"a.json": append(append([]byte{}, snake...), oneFlow[:len(oneFlow)/2]...)},
			want: counts{flows: flows, lostNotices: 1, lostEvents: lost, malformed: 1}},
		{name: "invalid UTF-8", files: map[string][]byte{"a.json": []byte(string(oneFlow) + "\n" + strings.Replace(string(oneFlow), "shop", "sh\xffp", 1) + "\n" + string(oneFlow) + "\n")},
			want: counts{flows: 2, malformed: 1}},
		{name: "garbage lines", files: map[string][]byte{"a.json": []byte("not json\n{}\n[1,2]\n" + string(oneFlow) + "\n{\"flow\":{\"verdict\":12}}x\n")},
			want: counts{flows: 1, malformed: 4}},
		{name: "empty file", files: map[string][]byte{"a.json": nil}, want: counts{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var paths []string
			for _, name := range sortedNames(tt.files) {
				p := filepath.Join(dir, name)
				if err := os.WriteFile(p, tt.files[name], 0o644); err != nil {
					t.Fatal(err)
				}
				paths = append(paths, p)
			}
			opts := capture.Options{}
			if tt.stdin != nil {
				paths, opts.Stdin = []string{"-"}, bytes.NewReader(tt.stdin)
			}
			got, _, err := readAll(t, paths, opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.skipped) == 0 {
				got.skipped = nil
			}
			if !equalCounts(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func sortedNames(m map[string][]byte) []string {
	var names []string
	for k := range m {
		names = append(names, k)
	}
	for i := range names {
		for j := i + 1; j < len(names); j++ {
			if names[j] < names[i] {
				names[i], names[j] = names[j], names[i]
			}
		}
	}
	return names
}

func equalCounts(a, b counts) bool {
	if a.flows != b.flows || a.lostNotices != b.lostNotices || a.lostEvents != b.lostEvents || a.malformed != b.malformed || len(a.skipped) != len(b.skipped) {
		return false
	}
	for k, v := range b.skipped {
		if a.skipped[k] != v {
			return false
		}
	}
	return true
}

// A line far beyond bufio.Scanner's and the hubble CLI's 64 KiB limit.
func TestMegabyteLine(t *testing.T) {
	snake, _ := shopCapture(t, false)
	line := string(bytes.SplitN(snake, []byte("\n"), 2)[0])
	var labels strings.Builder
	for labels.Len() < 1<<20 {
		labels.WriteString(`"k8s:filler.example.com/padding=`)
		labels.WriteString(strings.Repeat("x", 50))
		labels.WriteString(`",`)
	}
	huge := strings.Replace(line, `"labels":[`, `"labels":[`+labels.String(), 1)
	if len(huge) < 1<<20 {
		t.Fatalf("line is only %d bytes", len(huge))
	}
	p := writeFile(t, "huge.json", []byte(line+"\n"+huge+"\n"+line+"\n"))
	got, malformed, err := readAll(t, []string{p}, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got.flows != 3 || got.malformed != 0 {
		t.Errorf("got %d flows and %d malformed (%v), want 3 and 0", got.flows, got.malformed, malformed)
	}
}

func TestMalformedRecordsNameFileAndLine(t *testing.T) {
	snake, _ := shopCapture(t, false)
	oneFlow := string(bytes.SplitN(snake, []byte("\n"), 2)[0])
	p := writeFile(t, "bad.json", []byte(oneFlow+"\n\n"+`{"flow":{"IP":{"source":"10.0.0.300"}}}`+"\n"+oneFlow+"\n"))
	_, malformed, err := readAll(t, []string{p}, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(malformed) != 1 || malformed[0].Line != 3 || malformed[0].File != p || !strings.Contains(malformed[0].Error(), "invalid IP address") {
		t.Fatalf("want one error at %s:3 naming the bad IP, got %v", p, malformed)
	}
	// --strict stops at the same place.
	_, _, err = readAll(t, []string{p}, capture.Options{Strict: true})
	var lerr *capture.LineError
	if !errors.As(err, &lerr) || lerr.Line != 3 || !strings.HasPrefix(err.Error(), p+":3: ") {
		t.Fatalf("strict: want an error at %s:3, got %v", p, err)
	}
}

func TestUnreadableInputsNameTheFile(t *testing.T) {
	snake, _ := shopCapture(t, false)
	good := writeFile(t, "good.json", snake)
	missing := filepath.Join(t.TempDir(), "missing.json")
	gz := gzipped(t, snake)
	truncatedGzip := writeFile(t, "cut.json.gz", gz[:len(gz)/2])
	badHeader := writeFile(t, "hdr.json.gz", []byte{0x1f, 0x8b, 0x00, 0x01, 0x02})
	tests := []struct {
		name   string
		paths  []string
		substr []string
	}{
		{"missing file after a good one", []string{good, missing}, []string{missing, "no such file"}},
		{"truncated gzip", []string{truncatedGzip}, []string{truncatedGzip, "gzip"}},
		{"bad gzip header", []string{badHeader}, []string{badHeader, "gzip"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := capture.NewSource(tt.paths, capture.Options{})
			var err error
			for err == nil {
				_, err = src.Next(context.Background())
			}
			if errors.Is(err, io.EOF) {
				t.Fatal("read to the end without an error")
			}
			for _, s := range tt.substr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
			// What was read before the error is kept.
			if tt.paths[0] == good && src.Stats().Flows == 0 {
				t.Error("flows of the good file were not read before the error")
			}
		})
	}
}
