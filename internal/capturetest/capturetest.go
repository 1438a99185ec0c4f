// Package capturetest writes small Hubble captures for tests.
package capturetest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	observerpb "github.com/cilium/cilium/api/v1/observer"
	"google.golang.org/protobuf/encoding/protojson"
)

// Write writes responses as hubble observe -o jsonpb lines to a file in
// the test's temporary directory and returns its path.
func Write(tb testing.TB, resps []*observerpb.GetFlowsResponse) string {
	tb.Helper()
	var b strings.Builder
	for _, r := range resps {
		line, err := protojson.Marshal(r)
		if err != nil {
			tb.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	path := filepath.Join(tb.TempDir(), "capture.json")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}
