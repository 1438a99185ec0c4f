package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netpolgen/netpolgen/internal/sharedflows"
)

// run executes a command line in-process and returns its exit code and output.
func run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Run(context.Background(), Streams{In: strings.NewReader(stdin), Out: &out, Err: &errOut}, args)
	return code, out.String(), errOut.String()
}

func TestInspectJSONOnTheBundledExample(t *testing.T) {
	example := filepath.Join("..", "..", "examples", "shop-flows.json.gz")
	var truth struct {
		Flows      uint64 `json:"flows"`
		LostEvents uint64 `json:"lost_events"`
	}
	data, err := os.ReadFile(filepath.Join("..", "..", "examples", "shop-truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &truth); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := run(t, "", "inspect", "-o", "json", example)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var sum struct {
		Flows          uint64            `json:"flows"`
		Nodes          map[string]uint64 `json:"nodes"`
		Namespaces     map[string]uint64 `json:"namespaces"`
		Verdicts       map[string]uint64 `json:"verdicts"`
		WithoutIsReply uint64            `json:"flows_without_is_reply"`
		LostNotices    uint64            `json:"lost_event_notices"`
		LostEvents     map[string]uint64 `json:"lost_events"`
		Malformed      uint64            `json:"malformed_records"`
		Span           string            `json:"span"`
	}
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("inspect -o json printed invalid JSON: %v\n%s", err, out)
	}
	if sum.Flows != truth.Flows || sum.LostEvents["HUBBLE_RING_BUFFER"] != truth.LostEvents || sum.LostNotices != 1 || sum.Malformed != 0 {
		t.Errorf("summary %+v disagrees with the truth file (%d flows, %d lost)", sum, truth.Flows, truth.LostEvents)
	}
	if len(sum.Nodes) != 3 || len(sum.Namespaces) != 5 || sum.Verdicts["DROPPED"] == 0 || sum.WithoutIsReply == 0 || sum.Span == "" {
		t.Errorf("summary misses parts of the capture: %+v", sum)
	}
}

func TestInspectTableOnBookinfo(t *testing.T) {
	file := sharedflows.Path(t, "bookinfo-kind/basic-sample-400-tcp-flows.json")
	code, out, stderr := run(t, "", "inspect", file)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"Flows              400",
		"kind-control-plane=400",
		"Without is_reply   50 (0 marked by the legacy reply field)",
		"Lost events        none",
		"Malformed records  0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestInspectStdinAndErrors(t *testing.T) {
	line := `{"flow":{"verdict":"DROPPED","source":{"namespace":"a"}},"node_name":"n1"}` + "\n"
	code, out, _ := run(t, line+"garbage\n", "inspect", "-o", "json", "-")
	if code != 0 || !strings.Contains(out, `"malformed_records": 1`) || !strings.Contains(out, `<stdin>:2: `) {
		t.Errorf("stdin: exit %d, output:\n%s", code, out)
	}
	code, _, stderr := run(t, line+"garbage\n", "inspect", "--strict", "-")
	if code != 2 || !strings.Contains(stderr, "<stdin>:2:") {
		t.Errorf("--strict: exit %d, stderr %q; want exit 2 naming <stdin>:2", code, stderr)
	}
	missing := filepath.Join(t.TempDir(), "nope.json")
	code, _, stderr = run(t, "", "inspect", missing)
	if code != 2 || !strings.Contains(stderr, missing) {
		t.Errorf("missing file: exit %d, stderr %q", code, stderr)
	}
	if code, _, _ := run(t, "", "inspect", "-o", "yaml", missing); code != 2 {
		t.Errorf("unknown output format accepted")
	}
}

func TestInspectFromFileFlag(t *testing.T) {
	line := `{"flow":{"verdict":"FORWARDED","source":{"namespace":"a"}},"node_name":"n1"}` + "\n"
	p := filepath.Join(t.TempDir(), "a.json")
	if err := os.WriteFile(p, []byte(line+line), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := run(t, line, "inspect", "-o", "json", "--from-file", p, "-f", "-")
	if code != 0 || !strings.Contains(out, `"flows": 3`) {
		t.Errorf("exit %d, stderr %q, output:\n%s", code, stderr, out)
	}
	if code, _, stderr := run(t, "", "inspect"); code != 2 || !strings.Contains(stderr, "--from-file") {
		t.Errorf("no input: exit %d, stderr %q", code, stderr)
	}
}

func TestInspectHintsAtTheWrongOutputFormat(t *testing.T) {
	compact := "Nov 10 10:40:56.465: bookinfo/productpage-v1:35128 (ID:3418) -> bookinfo/reviews-v2:9080 (ID:11615) to-proxy FORWARDED (TCP Flags: ACK)\n"
	code, out, _ := run(t, compact, "inspect", "-")
	if code != 0 || !strings.Contains(out, "-o jsonpb") {
		t.Errorf("exit %d; want a hint naming -o jsonpb:\n%s", code, out)
	}
}
