package drift

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/netpolgen/netpolgen/internal/replay"
	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/observe/hubble"
	"github.com/netpolgen/netpolgen/pkg/synth"
)

// replayServer serves a capture on addr ("127.0.0.1:0" picks a port)
// until stopped.
type replayServer struct {
	addr string
	g    *grpc.Server
}

func startReplay(t *testing.T, addr string, capture string) *replayServer {
	t.Helper()
	c, err := replay.LoadCapture(capture)
	if err != nil {
		t.Fatal(err)
	}
	var lis net.Listener
	for i := 0; ; i++ { // the old server's port may take a moment to free
		if lis, err = net.Listen("tcp", addr); err == nil || i == 50 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	s := &replayServer{addr: lis.Addr().String(), g: replay.NewServer(c, replay.Options{}).NewGRPCServer()}
	go s.g.Serve(lis)
	return s
}

// scrape reads one metric's value from /metrics.
func scrape(t *testing.T, url, series string) float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, series+" ") {
			v, err := strconv.ParseFloat(strings.TrimPrefix(line, series+" "), 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	t.Fatalf("no series %s in /metrics:\n%s", series, body)
	return 0
}

// TestFollowReplayAcrossRelayRestart drives drift from an in-process
// Hubble replay: the baseline gives no findings; then Relay restarts, and
// the new connection and the dropped flow that happened while it was down
// are delivered on reconnect, each exactly once, and show up in the report
// and the metrics within one interval, with the outage as a gap.
func TestFollowReplayAcrossRelayRestart(t *testing.T) {
	fx := shopBaseline(t, synth.FormatCilium)
	baseline := fx.write(t, "baseline.json", fx.baseline)
	later := fx.write(t, "later.json", fx.baseline, fx.driftFlows(t))
	baseFlows := uint64(bytes.Count(fx.baseline, []byte("\n")))

	relay := startReplay(t, "127.0.0.1:0", baseline)
	const interval = 300 * time.Millisecond
	start := fx.end.Add(-time.Hour)
	r, err := NewRunner(Options{
		Open: func(ctx context.Context, since time.Time, hooks SourceHooks) (observe.Source, error) {
			if since.IsZero() {
				since = start
			}
			return hubble.NewSource(ctx, hubble.Options{Server: relay.addr, Follow: true, Since: since,
				Backoff: observe.Backoff{Initial: 50 * time.Millisecond, Max: 200 * time.Millisecond}, OnReconnect: hooks.OnReconnect})
		},
		SourceName: "replay", Follow: true, Policies: NewDirSource(fx.policies), Interval: interval,
		ReportDir: t.TempDir(), StatePath: fx.dir + "/state.json",
	})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsServer := &http.Server{Handler: r.Handler()}
	go metricsServer.Serve(lis)
	defer metricsServer.Close()
	metrics := "http://" + lis.Addr().String() + "/metrics"

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { _, err := r.Run(ctx); done <- err }()

	waitFlows(t, r, baseFlows)
	rep := waitFor(t, r, "a report over the whole baseline", func(rep *Report) bool { return rep.Source.Flows == baseFlows })
	if n := len(rep.Findings()); n != 0 {
		t.Fatalf("baseline: %d findings, want none: %v", n, findingKeys(rep.Findings()))
	}

	relay.g.Stop() // Relay restarts; meanwhile the new traffic happens
	waitFor(t, r, "the outage recorded as an open gap", func(*Report) bool {
		gaps := r.gaps.snapshot()
		return len(gaps) > 0 && gaps[len(gaps)-1].Open()
	})
	relay = startReplay(t, relay.addr, later)
	defer relay.g.Stop()

	waitFlows(t, r, baseFlows+2)
	arrived := time.Now()
	rep = waitFor(t, r, "the drift findings", func(rep *Report) bool { return rep.Source.Flows == baseFlows+2 })
	latency := time.Since(arrived)
	t.Logf("findings reported %v after their flows arrived (interval %v)", latency, interval)
	if latency > 2*interval+500*time.Millisecond {
		t.Errorf("findings took %v to reach the report, want about one interval (%v)", latency, interval)
	}
	want := "uncovered/shop/checkout>shop/cart/8080/TCP uncovered/shop/debug-shell>data/postgresql/5432/TCP"
	if got := strings.Join(findingKeys(rep.Findings()), " "); got != want {
		t.Fatalf("findings %s, want %s", got, want)
	}
	gap := rep.Gaps[len(rep.Gaps)-1]
	if gap.Open() || gap.Cause != "Hubble stream down" || !gap.FirstFlowAfter.After(gap.LastFlowBefore) {
		t.Errorf("outage gap %+v, want closed, bounded by the flows around it", gap)
	}
	time.Sleep(2 * interval) // anything repeated after the reconnect would be counted by now
	for series, want := range map[string]float64{
		`netpolgen_drift_flows_processed_total`:                       float64(baseFlows + 2),
		`netpolgen_drift_findings{kind="uncovered",namespace="shop"}`: 1,
		`netpolgen_drift_findings{kind="uncovered",namespace="data"}`: 1,
		`netpolgen_drift_findings{kind="stale",namespace=""}`:         0,
		`netpolgen_drift_last_flow_timestamp_seconds`:                 unixSeconds(fx.end.Add(2 * time.Minute)),
		`netpolgen_drift_stream_connected`:                            1,
	} {
		if got := scrape(t, metrics, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if got := scrape(t, metrics, "netpolgen_drift_stream_reconnects_total"); got < 1 {
		t.Errorf("reconnects = %v, want at least 1", got)
	}
	resp, err := http.Get("http://" + lis.Addr().String() + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz: %v %v", err, resp.Status)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestHubbleOutageIsAGapNotSilence starts drift while Hubble is down: the
// reports written meanwhile show an open gap and a disconnected stream,
// and once Relay is up the gap closes at the first flow and the baseline
// is read.
func TestHubbleOutageIsAGapNotSilence(t *testing.T) {
	fx := shopBaseline(t, synth.FormatCilium)
	baseline := fx.write(t, "baseline.json", fx.baseline)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close() // nothing listens there yet

	r, err := NewRunner(Options{
		Open: func(ctx context.Context, since time.Time, hooks SourceHooks) (observe.Source, error) {
			return hubble.NewSource(ctx, hubble.Options{Server: addr, Follow: true, Since: fx.end.Add(-time.Hour),
				DialTimeout: 100 * time.Millisecond, OnReconnect: hooks.OnReconnect})
		},
		SourceName: "replay", Follow: true, Policies: NewDirSource(fx.policies), Interval: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { _, err := r.Run(ctx); done <- err }()

	rep := waitFor(t, r, "a report showing the outage", func(rep *Report) bool {
		return len(rep.Gaps) == 1 && rep.Gaps[0].Open() && !rep.Source.Connected
	})
	if rep.Gaps[0].LastError == "" || !strings.Contains(string(rep.Markdown()), "| ongoing |") {
		t.Errorf("the outage gap says nothing of why or that it goes on: %+v", rep.Gaps[0])
	}
	relay := startReplay(t, addr, baseline)
	defer relay.g.Stop()
	rep = waitFor(t, r, "the baseline after Relay came up", func(rep *Report) bool {
		return rep.Source.Flows == uint64(bytes.Count(fx.baseline, []byte("\n")))
	})
	if g := rep.Gaps[0]; g.Open() || g.FirstFlowAfter.IsZero() {
		t.Errorf("gap %+v, want closed at the first flow", g)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
