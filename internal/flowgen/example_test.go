package flowgen

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The bundled example must be exactly what the generator writes, so it
// is provably the project's own data and never drifts from the code.
func TestBundledExampleIsUpToDate(t *testing.T) {
	dir := filepath.Join("..", "..", "examples")
	f, err := os.Open(filepath.Join(dir, "shop-flows.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var fresh bytes.Buffer
	truth, err := Generate(Shop(), Options{Seed: 1, Duration: time.Hour}, &fresh)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(committed, fresh.Bytes()) {
		t.Fatal("examples/shop-flows.json.gz is stale: run `make example`")
	}
	var truthJSON bytes.Buffer
	if err := truth.WriteJSON(&truthJSON); err != nil {
		t.Fatal(err)
	}
	committedTruth, err := os.ReadFile(filepath.Join(dir, "shop-truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(committedTruth, truthJSON.Bytes()) {
		t.Fatal("examples/shop-truth.json is stale: run `make example`")
	}
}
