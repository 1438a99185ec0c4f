package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	observerpb "github.com/cilium/cilium/api/v1/observer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/netpolgen/netpolgen/internal/flowgen"
	"github.com/netpolgen/netpolgen/internal/pipeline"
	"github.com/netpolgen/netpolgen/pkg/graph"
	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/observe/capture"
	"github.com/netpolgen/netpolgen/pkg/observe/hubble"
	"github.com/netpolgen/netpolgen/pkg/synth"
)

// row is one cluster size's figures.
type row struct {
	workloads, flows, sample int

	fileRate, protojsonRate, hubbleRate float64
	grpcRate, stockRate                 float64
	foldRate                            float64

	peakRSS      int64
	edges        int
	bytesPerEdge float64

	synthTime, verifyTime time.Duration
	verified              bool
	verifyOK              bool
	policies, yamlBytes   int
}

func measure(ctx context.Context, cfg config, n int) (row, error) {
	r := row{workloads: n}
	path := capturePath(cfg, n)
	flows, err := ensureCapture(path, n)
	if err != nil {
		return r, err
	}
	r.flows = flows
	sample := path + ".sample"
	if r.sample, err = writeSample(path, sample, cfg.sample); err != nil {
		return r, err
	}

	// Ingest first, every reader beside its baseline, while the process
	// holds no graph: a large live heap makes whichever reader happens to
	// start a collection pay for marking it.
	if r.fileRate, err = timeRate(r.flows, func() (int, error) { return ingestFile(ctx, path) }); err != nil {
		return r, err
	}
	if r.protojsonRate, err = timeRate(r.sample, func() (int, error) { return ingestProtojson(sample) }); err != nil {
		return r, err
	}
	if cfg.hubble != "" {
		if r.hubbleRate, err = timeRate(r.sample, func() (int, error) { return ingestHubbleCLI(cfg.hubble, sample) }); err != nil {
			return r, err
		}
	}
	if r.grpcRate, r.stockRate, err = grpcRates(ctx, cfg, sample, r.sample); err != nil {
		return r, err
	}
	beforeFold := liveHeap()
	var g *graph.Graph
	if r.foldRate, err = timeRate(r.flows, func() (int, error) {
		src := capture.NewSource([]string{path}, capture.Options{})
		defer src.Close()
		var err error
		g, err = graph.Build(ctx, src, graph.Options{})
		return int(src.Stats().Flows), err
	}); err != nil {
		return r, err
	}
	r.edges = len(g.Edges)
	// The graph's size: live heap with it minus live heap before the fold,
	// measured before anything else (gRPC streams winding down, Cilium's
	// engine state) can come or go in between.
	r.bytesPerEdge = float64(liveHeap()-beforeFold) / float64(max(1, r.edges))

	start := time.Now()
	learned, err := pipeline.Synthesize(g, synth.Options{Format: synth.FormatCilium}, nil)
	if err != nil {
		return r, err
	}
	r.synthTime = time.Since(start)
	for _, f := range learned.Files {
		if strings.HasSuffix(f.Path, ".yaml") && !strings.HasSuffix(f.Path, "kustomization.yaml") {
			r.policies++
			r.yamlBytes += len(f.Data)
		}
	}

	if n <= cfg.verifyMax {
		start = time.Now()
		if err := learned.Verify(); err != nil {
			return r, err
		}
		res := learned.Verified
		r.verifyTime, r.verified, r.verifyOK = time.Since(start), true, res.OK() && len(res.Excess) == 0
	}

	r.peakRSS, err = peakRSS(cfg, "", cfg.netpolgen, "graph", "-o", "text", path)
	return r, err
}

// ensureCapture writes the large-cluster capture for n workloads unless it
// is already there, and returns its flow count.
func ensureCapture(path string, n int) (int, error) {
	s, err := flowgen.Large(flowgen.DefaultLargeConfig(max(10, n/100), n))
	if err != nil {
		return 0, err
	}
	want := flowsFor(n)
	if st, err := os.Stat(path + ".flows"); err == nil && st.Size() > 0 {
		if data, err := os.ReadFile(path + ".flows"); err == nil {
			if got, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && got >= want {
				return got, nil
			}
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	truth, err := flowgen.Generate(s, flowgen.Options{Seed: 1, MaxFlows: uint64(want)}, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, err
	}
	return int(truth.Flows), os.WriteFile(path+".flows", []byte(strconv.FormatUint(truth.Flows, 10)), 0o644)
}

// writeSample copies the first n lines of a capture.
func writeSample(from, to string, n int) (int, error) {
	in, err := os.Open(from)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(out, 1<<20)
	br := bufio.NewReaderSize(in, 1<<20)
	flows := 0
	for flows < n {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			w.Write(line)
			if bytes.HasPrefix(line, []byte(`{"flow"`)) {
				flows++
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	if err := w.Flush(); err != nil {
		return 0, err
	}
	return flows, out.Close()
}

// timeRate runs fn and returns flows per second, checking fn read the
// expected number of flows so a short read cannot flatter a figure.
func timeRate(want int, fn func() (int, error)) (float64, error) {
	start := time.Now()
	got, err := fn()
	elapsed := time.Since(start)
	if err != nil {
		return 0, err
	}
	if got != want {
		return 0, fmt.Errorf("read %d flows, want %d", got, want)
	}
	return float64(got) / elapsed.Seconds(), nil
}

func ingestFile(ctx context.Context, path string) (int, error) {
	src := capture.NewSource([]string{path}, capture.Options{Strict: true})
	defer src.Close()
	return countFlows(ctx, src)
}

// countFlows reads a source to its end and counts its flows.
func countFlows(ctx context.Context, src observe.Source) (int, error) {
	n := 0
	err := observe.Feed(ctx, src, func(rec *observe.Record) bool {
		if rec.Kind == observe.KindFlow {
			n++
		}
		return true
	})
	return n, err
}

// ingestProtojson is the baseline a client of the generated types has:
// protojson.Unmarshal of each line into GetFlowsResponse.
func ingestProtojson(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 1<<30)
	opts := protojson.UnmarshalOptions{DiscardUnknown: true}
	n := 0
	for sc.Scan() {
		var resp observerpb.GetFlowsResponse
		if err := opts.Unmarshal(sc.Bytes(), &resp); err != nil {
			return n, err
		}
		if resp.GetFlow() != nil {
			n++
		}
	}
	return n, sc.Err()
}

// ingestHubbleCLI times the real hubble CLI reading the same file and
// printing it again, counting the flows it printed.
func ingestHubbleCLI(hubble, path string) (int, error) {
	cmd := exec.Command(hubble, "observe", "--input-file", path, "-o", "jsonpb", "--all")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	br := bufio.NewReaderSize(out, 1<<20)
	n := 0
	for {
		line, err := br.ReadSlice('\n')
		if bytes.HasPrefix(line, []byte(`{"flow"`)) {
			n++
		}
		if err == io.EOF {
			break
		}
		if err != nil && err != bufio.ErrBufferFull {
			return n, err
		}
	}
	if err := cmd.Wait(); err != nil {
		return n, fmt.Errorf("hubble observe --input-file: %v: %s", err, stderr.String())
	}
	return n, nil
}

// grpcRates serves the sample (want flows) from `netpolgen replay` in its own
// process, as Relay would be, and reads it all over loopback with
// netpolgen's source and with the stock generated client (full decoding,
// then FromProto).
func grpcRates(ctx context.Context, cfg config, sample string, want int) (fast, stock float64, err error) {
	addr, stop, err := startReplay(ctx, cfg.netpolgen, sample)
	if err != nil {
		return 0, 0, err
	}
	defer stop()

	// Alternate the two clients and keep each one's best of three, so a
	// burst of load from elsewhere on the machine skews neither side.
	for round := 0; round < 3; round++ {
		s, err := timeRate(want, func() (int, error) { return readStock(ctx, addr) })
		if err != nil {
			return 0, 0, err
		}
		f, err := timeRate(want, func() (int, error) { return readFast(ctx, addr) })
		if err != nil {
			return 0, 0, err
		}
		stock, fast = max(stock, s), max(fast, f)
	}
	return fast, stock, nil
}

// startReplay runs `netpolgen replay` on a free loopback port and returns
// the address it serves once it says so, and a function that stops it.
func startReplay(ctx context.Context, netpolgen, capture string) (addr string, stop func(), err error) {
	cmd := exec.CommandContext(ctx, netpolgen, "replay", "--log-format", "json", "--listen", "127.0.0.1:0", capture)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start %s replay: %w", netpolgen, err)
	}
	stop = func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	// Its log names the address it serves on: {"msg":"replay serving","addr":...}.
	lines := bufio.NewScanner(stderr)
	var said []string
	for lines.Scan() {
		said = append(said, lines.Text())
		var line struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal(lines.Bytes(), &line) == nil && line.Msg == "replay serving" && line.Addr != "" {
			go func() {
				for lines.Scan() { // keep draining so the child never blocks
				}
			}()
			return line.Addr, stop, nil
		}
	}
	stop()
	return "", nil, fmt.Errorf("%s replay %s exited before serving: %s", netpolgen, capture, strings.Join(said, "\n"))
}

func readStock(ctx context.Context, addr string) (int, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	stream, err := observerpb.NewObserverClient(conn).GetFlows(ctx, &observerpb.GetFlowsRequest{})
	if err != nil {
		return 0, err
	}
	n := 0
	var sink observe.Flow
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			runtime.KeepAlive(sink)
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if f := resp.GetFlow(); f != nil {
			sink = observe.FromProto(f)
			n++
		}
	}
}

func readFast(ctx context.Context, addr string) (int, error) {
	src, err := hubble.NewSource(ctx, hubble.Options{Server: addr})
	if err != nil {
		return 0, err
	}
	defer src.Close()
	return countFlows(ctx, src)
}

// peakRSS runs a netpolgen command in a child process (through a shell
// pipeline when pipeFrom is set) and returns its peak resident set size.
func peakRSS(cfg config, pipeFrom string, args ...string) (int64, error) {
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = strconv.Quote(a)
	}
	script := strconv.Quote(cfg.peakrss) + " -- " + strings.Join(quoted, " ")
	if pipeFrom != "" {
		script = pipeFrom + " | " + script
	}
	cmd := exec.Command("bash", "-o", "pipefail", "-c", script)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("%s: %v: %s", script, err, stderr.String())
	}
	return strconv.ParseInt(strings.TrimSpace(stdout.String()), 10, 64)
}

// liveHeap is the heap in use after a full collection.
func liveHeap() int64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
