package replay

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	observerpb "github.com/cilium/cilium/api/v1/observer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/netpolgen/netpolgen/internal/flowgen"
)

// BenchmarkGetFlows reads a whole capture of flowgen's L7 scenario over
// loopback, unfiltered, through common filters and through the field mask
// hubble's text output asks for: the cost a filter adds per flow served.
func BenchmarkGetFlows(b *testing.B) {
	var buf bytes.Buffer
	if _, err := flowgen.Generate(flowgen.L7(), flowgen.Options{Seed: 7, Duration: 3 * time.Minute}, &buf); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "l7.json")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	c, err := LoadCapture(path)
	if err != nil {
		b.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	g := NewServer(c, Options{}).NewGRPCServer()
	go g.Serve(lis)
	defer g.Stop()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	client := observerpb.NewObserverClient(conn)

	for _, bc := range []struct {
		name string
		req  *observerpb.GetFlowsRequest
	}{
		{"all", &observerpb.GetFlowsRequest{}},
		{"namespace", &observerpb.GetFlowsRequest{Whitelist: []*flowpb.FlowFilter{
			{SourcePod: []string{"data/"}}, {DestinationPod: []string{"data/"}},
		}}},
		{"label-and-verdict", &observerpb.GetFlowsRequest{Whitelist: []*flowpb.FlowFilter{{
			SourceLabel: []string{"k8s:app.kubernetes.io/name=gateway"}, Verdict: []flowpb.Verdict{flowpb.Verdict_FORWARDED},
		}}}},
		{"http-blacklist", &observerpb.GetFlowsRequest{Blacklist: []*flowpb.FlowFilter{{HttpMethod: []string{"GET"}, HttpPath: []string{"^/api/"}}}}},
		{"field-mask", &observerpb.GetFlowsRequest{FieldMask: &fieldmaskpb.FieldMask{Paths: []string{
			"time", "source.namespace", "source.pod_name", "destination.namespace", "destination.pod_name", "verdict", "l4", "IP", "Type",
		}}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var flows int
			for b.Loop() {
				flows = 0
				stream, err := client.GetFlows(context.Background(), bc.req)
				if err != nil {
					b.Fatal(err)
				}
				for {
					_, err := stream.Recv()
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					flows++
				}
			}
			b.ReportMetric(float64(len(c.Events))*float64(b.N)/b.Elapsed().Seconds(), "scanned/s")
			b.ReportMetric(float64(flows), "sent")
		})
	}
}
