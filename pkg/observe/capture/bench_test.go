package capture_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	observerpb "github.com/cilium/cilium/api/v1/observer"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/netpolgen/netpolgen/internal/flowgen"
	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/observe/capture"
)

// benchCapture is about 12k generated flows, repeated to fill b.N.
func benchCapture(b *testing.B) []byte {
	b.Helper()
	var buf bytes.Buffer
	if _, err := flowgen.Generate(flowgen.Shop(), flowgen.Options{Seed: 1, Duration: time.Hour}, &buf); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// repeatReader yields data over and over, so a benchmark reads b.N flows
// from one in-memory capture.
type repeatReader struct {
	data []byte
	off  int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.off == len(r.data) {
		r.off = 0
	}
	n := copy(p, r.data[r.off:])
	r.off += n
	return n, nil
}

// protojsonIngest is the baseline: what a client using the generated
// types does, protojson.Unmarshal of each line into GetFlowsResponse.
func protojsonIngest(b *testing.B, r io.Reader, flows int) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), 1<<30)
	opts := protojson.UnmarshalOptions{DiscardUnknown: true}
	for n := 0; n < flows && sc.Scan(); {
		var resp observerpb.GetFlowsResponse
		if err := opts.Unmarshal(sc.Bytes(), &resp); err != nil {
			b.Fatal(err)
		}
		if resp.GetFlow() != nil {
			n++
		}
	}
}

func netpolgenIngest(b *testing.B, r io.Reader, flows int) {
	src := capture.NewSource([]string{"-"}, capture.Options{Stdin: r, Strict: true})
	for n := 0; n < flows; {
		rec, err := src.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		if rec.Kind == observe.KindFlow {
			n++
		}
	}
}

// BenchmarkFileIngest reads b.N flows (one op is one flow, so B/op is
// bytes allocated per flow). The netpolgen case also times the protojson
// baseline on the same data in the same run and reports the speed-up.
func BenchmarkFileIngest(b *testing.B) {
	data := benchCapture(b)
	b.Run("protojson", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data) / bytes.Count(data, []byte("\n"))))
		protojsonIngest(b, &repeatReader{data: data}, b.N)
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "flows/s")
	})
	b.Run("netpolgen", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data) / bytes.Count(data, []byte("\n"))))
		netpolgenIngest(b, &repeatReader{data: data}, b.N)
		b.StopTimer()
		ours := b.Elapsed().Seconds() / float64(b.N)
		const sample = 20000
		start := time.Now()
		protojsonIngest(b, &repeatReader{data: data}, sample)
		base := time.Since(start).Seconds() / sample
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "flows/s")
		b.ReportMetric(base/ours, "x-protojson")
	})
}
