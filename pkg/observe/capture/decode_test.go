package capture

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/netpolgen/netpolgen/internal/observetest"
	"github.com/netpolgen/netpolgen/internal/sharedflows"
	"github.com/netpolgen/netpolgen/pkg/observe"
)

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
			want, err := observetest.ReferenceJSON(line)
			if err != nil {
				t.Fatalf("%s:%d: protojson: %v", file, n, err)
			}
			var got observe.Record
			if err := dec.Decode(line, &got); err != nil {
				t.Fatalf("%s:%d: %v", file, n, err)
			}
			if diff := cmp.Diff(want, got, observetest.FlowCmp()...); diff != "" {
				t.Fatalf("%s:%d: decode differs from protojson (-want +got):\n%s", file, n, diff)
			}
		}
	}
}
