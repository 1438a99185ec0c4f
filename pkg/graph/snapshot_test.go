package graph

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSnapshotRoundTripsByteIdentically(t *testing.T) {
	g := buildFile(t, Options{}, bookinfoPaths(t)...)
	first := snapshotBytes(t, g)
	loaded, err := Load(bytes.NewReader(first), "bookinfo.graph.json")
	if err != nil {
		t.Fatal(err)
	}
	if second := snapshotBytes(t, loaded); !bytes.Equal(first, second) {
		t.Errorf("snapshot changed on a round trip:\n%s", cmp.Diff(string(first), string(second)))
	}
	if diff := cmp.Diff(edgeLines(g, g.Edges), edgeLines(loaded, loaded.Edges)); diff != "" {
		t.Errorf("edges changed (-saved +loaded):\n%s", diff)
	}
	if !strings.HasPrefix(string(first), fmt.Sprintf("{\n \"version\": %d,", SnapshotVersion)) {
		t.Errorf("snapshot does not start with its version: %.40q", first)
	}
}

func TestLoadRejectsBadSnapshots(t *testing.T) {
	valid := string(snapshotBytes(t, buildFrom(t, Options{}, toServerSYN(40001))))
	cur, next := fmt.Sprintf(`"version": %d`, SnapshotVersion), fmt.Sprintf(`"version": %d`, SnapshotVersion+1)
	tests := []struct {
		name, data, wantErr string
	}{
		{"future version", strings.Replace(valid, cur, next, 1), fmt.Sprintf("shop.graph.json: version %d is not supported (this netpolgen reads versions 1 to %d)", SnapshotVersion+1, SnapshotVersion)},
		{"no version", `{"peers": []}`, `shop.graph.json: no "version" field`},
		{"not JSON", `flows`, "shop.graph.json: not a snapshot"},
		{"unknown field", strings.Replace(valid, cur+",", cur+`, "extra": true,`, 1), `unknown field "extra"`},
		{"edge to an unlisted peer", strings.Replace(valid, `"to": "workload:shop/app=cart"`, `"to": "workload:shop/app=nope"`, 1), "names a peer that is not listed"},
		{"peer key that its fields contradict", strings.Replace(valid, `"key": "workload:shop/app=cart"`, `"key": "workload:shop/app=kart"`, 1), `its fields name it "workload:shop/app=cart"`},
		{"unknown protocol", strings.Replace(valid, `"protocol": "TCP"`, `"protocol": "QUIC"`, 1), `unknown protocol "QUIC"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(strings.NewReader(tc.data), "shop.graph.json")
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v, want one containing %q", err, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "shop.graph.json") {
				t.Errorf("err = %v does not name the file", err)
			}
		})
	}
}
