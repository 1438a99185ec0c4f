package hubble_test

import (
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	observerpb "github.com/cilium/cilium/api/v1/observer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/netpolgen/netpolgen/internal/replay"
	"github.com/netpolgen/netpolgen/internal/sharedflows"
	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/observe/hubble"
)

// grpcBenchCapture is the bookinfo captures repeated, each copy shifted later
// in time, into a capture of at least n events: long enough that stream
// set-up is noise, served without looping so the server only copies bytes.
func grpcBenchCapture(b *testing.B, n int) *replay.Capture {
	dir := sharedflows.Dir(b)
	files, _ := filepath.Glob(filepath.Join(dir, "bookinfo-kind", "*.json"))
	base, err := replay.LoadCapture(files...)
	if err != nil {
		b.Fatal(err)
	}
	out := &replay.Capture{Nodes: base.Nodes}
	for round := 0; len(out.Events) < n; round++ {
		shift := time.Duration(round) * time.Hour
		for _, ev := range base.Events {
			resp := proto.CloneOf(ev.Resp)
			resp.Time = timestamppb.New(resp.GetTime().AsTime().Add(shift))
			if fl := resp.GetFlow(); fl != nil {
				fl.Time = timestamppb.New(fl.GetTime().AsTime().Add(shift))
			}
			ev, err := replay.NewEvent(resp)
			if err != nil {
				b.Fatal(err)
			}
			out.Events = append(out.Events, ev)
		}
	}
	return out
}

// BenchmarkGRPCIngest reads flows over loopback from an in-process replay
// server into observe.Flow values: with netpolgen's source (raw bytes,
// protowire decoding) and with the stock generated client (full message
// decoding, then FromProto), measured in the same run.
func BenchmarkGRPCIngest(b *testing.B) {
	capture := grpcBenchCapture(b, 12000)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	g := replay.NewServer(capture, replay.Options{}).NewGRPCServer()
	go g.Serve(lis)
	defer g.Stop()
	addr := lis.Addr().String()
	var stockRate float64

	stock := newStockReader(b, addr)
	defer stock.close()
	fast := newFastReader(addr)
	defer fast.close()

	b.Run("stock-client", func(b *testing.B) {
		b.ReportAllocs()
		b.ResetTimer()
		stock.read(b, b.N)
		stockRate = float64(b.N) / b.Elapsed().Seconds()
		b.ReportMetric(stockRate, "flows/s")
	})

	b.Run("netpolgen", func(b *testing.B) {
		b.ReportAllocs()
		b.ResetTimer()
		fast.read(b, b.N)
		rate := float64(b.N) / b.Elapsed().Seconds()
		b.ReportMetric(rate, "flows/s")
		if stockRate > 0 {
			b.ReportMetric(rate/stockRate, "x-stock")
		}
	})

	// interleaved alternates the two in short turns, so a machine whose
	// load changes during the run (CI neighbours) skews neither side.
	b.Run("interleaved", func(b *testing.B) {
		const turn = 4000
		var stockTime, fastTime time.Duration
		for done := 0; done < b.N; done += turn {
			n := min(turn, b.N-done)
			start := time.Now()
			stock.read(b, n)
			stockTime += time.Since(start)
			start = time.Now()
			fast.read(b, n)
			fastTime += time.Since(start)
		}
		b.ReportMetric(float64(b.N)/stockTime.Seconds(), "stock-flows/s")
		b.ReportMetric(float64(b.N)/fastTime.Seconds(), "netpolgen-flows/s")
		b.ReportMetric(stockTime.Seconds()/fastTime.Seconds(), "x-stock")
	})
}

// stockReader reads with the generated client: every message decoded in
// full, then converted with FromProto.
type stockReader struct {
	conn   *grpc.ClientConn
	client observerpb.ObserverClient
	stream observerpb.Observer_GetFlowsClient
	sink   observe.Flow
}

func newStockReader(b *testing.B, addr string) *stockReader {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	return &stockReader{conn: conn, client: observerpb.NewObserverClient(conn)}
}

// read reads n flows, starting the capture over whenever it ends.
func (r *stockReader) read(b *testing.B, n int) {
	for read := 0; read < n; {
		if r.stream == nil {
			stream, err := r.client.GetFlows(context.Background(), &observerpb.GetFlowsRequest{})
			if err != nil {
				b.Fatal(err)
			}
			r.stream = stream
		}
		resp, err := r.stream.Recv()
		if errors.Is(err, io.EOF) {
			r.stream = nil
			continue
		}
		if err != nil {
			b.Fatal(err)
		}
		if f := resp.GetFlow(); f != nil {
			r.sink = observe.FromProto(f)
			read++
		}
	}
}

func (r *stockReader) close() { r.conn.Close() }

// fastReader reads with netpolgen's live source.
type fastReader struct {
	addr string
	src  *hubble.Source
}

func newFastReader(addr string) *fastReader { return &fastReader{addr: addr} }

func (r *fastReader) read(b *testing.B, n int) {
	ctx := context.Background()
	for read := 0; read < n; {
		if r.src == nil {
			src, err := hubble.NewSource(ctx, hubble.Options{Server: r.addr})
			if err != nil {
				b.Fatal(err)
			}
			r.src = src
		}
		rec, err := r.src.Next(ctx)
		if errors.Is(err, io.EOF) {
			r.src.Close()
			r.src = nil
			continue
		}
		if err != nil {
			b.Fatal(err)
		}
		if rec.Kind == observe.KindFlow {
			read++
		}
	}
}

func (r *fastReader) close() {
	if r.src != nil {
		r.src.Close()
	}
}
