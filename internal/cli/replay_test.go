package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/netpolgen/netpolgen/internal/sharedflows"
	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/observe/capture"
)

// lockedBuffer is a buffer a running command writes while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startReplayCommand runs `netpolgen replay` in-process on a free
// loopback port and returns the address it serves on.
func startReplayCommand(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errOut := &lockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, Streams{In: strings.NewReader(""), Out: &bytes.Buffer{}, Err: errOut}, append([]string{"replay", "--listen", "127.0.0.1:0"}, args...))
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("replay exited %d after interrupt, want 0:\n%s", code, errOut.String())
		}
	})
	served := regexp.MustCompile(`replay serving addr=(127\.0\.0\.1:\d+)`)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := served.FindStringSubmatch(errOut.String()); m != nil {
			return m[1]
		}
		select {
		case code := <-done:
			done <- code
			t.Fatalf("replay exited %d:\n%s", code, errOut.String())
		default:
		}
	}
	t.Fatalf("replay did not say where it serves:\n%s", errOut.String())
	return ""
}

// liveCommand is a command with the shared hubble flags that counts what
// it reads, as learn would consume it.
func liveCommand(streams Streams, got *[]observe.Flow, stats *observe.Stats) *cobra.Command {
	var hf hubbleFlags
	cmd := &cobra.Command{
		Use: "live",
		RunE: func(cmd *cobra.Command, args []string) error {
			src, closeSrc, err := hf.open(cmd.Context(), logger(cmd, streams))
			if err != nil {
				return err
			}
			defer closeSrc()
			defer hf.showProgress(streams, logger(cmd, streams), src, 0)()
			err = observe.Feed(cmd.Context(), src, func(rec *observe.Record) bool {
				if rec.Kind == observe.KindFlow {
					*got = append(*got, rec.Flow)
				}
				return true
			})
			*stats = src.Stats()
			if err != nil && cmd.Context().Err() != nil {
				return nil // the test's deadline ends a follow
			}
			return err
		},
	}
	hf.registerConnection(cmd.Flags())
	hf.registerQuery(cmd.Flags(), "namespace")
	hf.registerProgress(cmd.Flags())
	return cmd
}

func runLive(t *testing.T, args ...string) ([]observe.Flow, observe.Stats, string, error) {
	t.Helper()
	var (
		got   []observe.Flow
		stats observe.Stats
		errs  bytes.Buffer
	)
	cmd := liveCommand(Streams{Err: &errs}, &got, &stats)
	cmd.SetArgs(args)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := cmd.ExecuteContext(ctx)
	return got, stats, errs.String(), err
}

func TestReplayServesWhatTheLiveFlagsAskFor(t *testing.T) {
	path := sharedflows.Path(t, "bookinfo-kind/basic-sample-400-tcp-flows.json")
	addr := startReplayCommand(t, path)
	want := readCapture(t, path)
	inNS := func(ns string) (n int) {
		for _, f := range want {
			if f.Source.Namespace == ns || f.Destination.Namespace == ns {
				n++
			}
		}
		return n
	}
	tests := []struct {
		name string
		args []string
		want int
	}{
		{name: "all", args: nil, want: len(want)},
		{name: "last", args: []string{"--last", "25"}, want: 25},
		{name: "namespace", args: []string{"--namespace", "kube-system"}, want: inNS("kube-system")},
		{name: "since the last flow", args: []string{"--since", want[len(want)-1].Time.Format(time.RFC3339Nano)}, want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, stats, errs, err := runLive(t, append([]string{"--server", addr}, tt.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.want || stats.Flows != uint64(tt.want) {
				t.Fatalf("read %d flows (stats %d), want %d", len(got), stats.Flows, tt.want)
			}
			// The progress line ends the run, on stderr, with the total.
			if !strings.Contains(errs, "netpolgen: progress ") || !strings.Contains(errs, fmt.Sprintf(" flows=%d ", tt.want)) {
				t.Errorf("no progress line on stderr: %q", errs)
			}
		})
	}
	_, _, errs, err := runLive(t, "--server", addr, "--quiet")
	if err != nil || errs != "" {
		t.Errorf("--quiet: err %v, stderr %q; want silence", err, errs)
	}
}

func TestLiveFlagsUnreachableServer(t *testing.T) {
	_, _, _, err := runLive(t, "--server", "127.0.0.1:1", "--timeout", "300ms")
	if err == nil || !strings.Contains(phraseError(err), "cannot reach Hubble at 127.0.0.1:1") || !strings.Contains(phraseError(err), "-P") {
		t.Fatalf("got %v, want a clear unreachable error naming the address and -P when the CLI says it", err)
	}
}

func readCapture(t *testing.T, path string) []observe.Flow {
	t.Helper()
	src := capture.NewSource([]string{path}, capture.Options{})
	defer src.Close()
	var out []observe.Flow
	for {
		rec, err := src.Next(context.Background())
		if err != nil {
			return out
		}
		if rec.Kind == observe.KindFlow {
			out = append(out, rec.Flow)
		}
	}
}

func TestHubbleFilterFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []*flowpb.FlowFilter
	}{
		{name: "none", args: nil, want: nil},
		{name: "verdict", args: []string{"--verdict", "dropped"}, want: []*flowpb.FlowFilter{{Verdict: []flowpb.Verdict{flowpb.Verdict_DROPPED}}}},
		{
			name: "namespace either side, as hubble sends it",
			args: []string{"--namespace", "shop"},
			want: []*flowpb.FlowFilter{{SourcePod: []string{"shop/"}}, {DestinationPod: []string{"shop/"}}},
		},
		{
			name: "directional and either-side together",
			args: []string{"--from-namespace", "web", "--label", "app=cart", "--node-name", "kind-worker"},
			want: []*flowpb.FlowFilter{
				{NodeName: []string{"kind-worker"}, SourcePod: []string{"web/"}, SourceLabel: []string{"app=cart"}},
				{NodeName: []string{"kind-worker"}, SourcePod: []string{"web/"}, DestinationLabel: []string{"app=cart"}},
			},
		},
		{name: "to pod", args: []string{"--to-pod", "shop/cart-"}, want: []*flowpb.FlowFilter{{DestinationPod: []string{"shop/cart-"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hf hubbleFlags
			cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }}
			hf.registerQuery(cmd.Flags(), "namespace")
			if err := cmd.Flags().Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			got, err := hf.whitelist()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, protocmp.Transform()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestHubbleTimeFlags(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{in: "", want: time.Time{}},
		{in: "90m", want: now.Add(-90 * time.Minute)},
		{in: "2026-04-30T10:00:00Z", want: time.Date(2026, 4, 30, 10, 0, 0, 0, time.UTC)},
		{in: "2026-04-30T10:00:00.5+02:00", want: time.Date(2026, 4, 30, 8, 0, 0, 5e8, time.UTC)},
		{in: "2026-04-30", want: time.Date(2026, 4, 30, 0, 0, 0, 0, time.UTC)},
		{in: "yesterday", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseHubbleTime("since", tt.in, now)
		if (err != nil) != tt.wantErr || !got.Equal(tt.want) {
			t.Errorf("parseHubbleTime(%q) = %v, %v; want %v (error %v)", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestReplayCommandRefusesBadInput(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte("{\"flow\": {\"time\": \"2026-01-01T00:00:00Z\"}}\nnot json\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "malformed line", args: []string{"replay", "--listen", "127.0.0.1:0", bad}, want: bad + ":2:"},
		{name: "missing file", args: []string{"replay", "--listen", "127.0.0.1:0", bad + ".missing"}, want: "no such file"},
		{name: "remote listen", args: []string{"replay", "--listen", "0.0.0.0:4245", bad}, want: "--allow-remote"},
		{name: "no capture", args: []string{"replay", "--listen", "127.0.0.1:0"}, want: "no capture to serve"},
		{name: "malformed line by --from-file", args: []string{"replay", "--listen", "127.0.0.1:0", "--from-file", bad}, want: bad + ":2:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := run(t, "", tt.args...)
			if code == 0 || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q: want failure mentioning %q", code, errOut, tt.want)
			}
		})
	}
}

func TestLiveReportsNodeNoticesAndLostEvents(t *testing.T) {
	capture := filepath.Join(t.TempDir(), "notices.json")
	lines := strings.Join([]string{
		`{"flow":{"time":"2026-01-01T00:00:00Z","node_name":"n1","verdict":"FORWARDED","source":{"namespace":"a","pod_name":"p"}},"node_name":"n1","time":"2026-01-01T00:00:00Z"}`,
		`{"node_status":{"state_change":"NODE_UNAVAILABLE","node_names":["n2"],"message":"dial timeout"},"time":"2026-01-01T00:00:01Z"}`,
		`{"lost_events":{"source":"HUBBLE_RING_BUFFER","num_events_lost":"5"},"node_name":"n1","time":"2026-01-01T00:00:02Z"}`,
		`{"flow":{"time":"2026-01-01T00:00:03Z","node_name":"n1","verdict":"DROPPED","source":{"namespace":"a","pod_name":"p"}},"node_name":"n1","time":"2026-01-01T00:00:03Z"}`,
	}, "\n") + "\n"
	if err := os.WriteFile(capture, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := startReplayCommand(t, capture)
	got, stats, errs, err := runLive(t, "--server", addr)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || stats.TotalLost() != 5 {
		t.Errorf("read %d flows and %d lost events, want 2 and 5", len(got), stats.TotalLost())
	}
	for _, want := range []string{"warning: Hubble Relay: nodes unavailable", "nodes=n2", `message="dial timeout"`, "lost=5"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
}

// registerQuery adds hubble observe's time-range and filter flags to a
// test command, to drive the live client's request through them. The
// server does the filtering. nsFlag names the --namespace filter flag, for
// commands where --namespace already means something else.
func (f *hubbleFlags) registerQuery(fs *pflag.FlagSet, nsFlag string) {
	fs.StringVar(&f.since, "since", "", "flows since this time: RFC 3339 or a duration ago (5m, 3h)")
	fs.StringVar(&f.until, "until", "", "flows until this time: RFC 3339 or a duration ago")
	fs.BoolVarP(&f.follow, "follow", "f", false, "keep reading new flows as they happen")
	fs.Uint64Var(&f.last, "last", 0, "only the last N flows (0 for all)")
	fs.Uint64Var(&f.first, "first", 0, "only the first N flows")
	fs.StringSliceVar(&f.namespaces, nsFlag, nil, "flows from or to this namespace (repeatable)")
	fs.StringSliceVar(&f.fromNamespaces, "from-namespace", nil, "flows from this namespace")
	fs.StringSliceVar(&f.toNamespaces, "to-namespace", nil, "flows to this namespace")
	fs.StringSliceVar(&f.pods, "pod", nil, "flows from or to this pod ([namespace/]name-prefix)")
	fs.StringSliceVar(&f.fromPods, "from-pod", nil, "flows from this pod ([namespace/]name-prefix)")
	fs.StringSliceVar(&f.toPods, "to-pod", nil, "flows to this pod ([namespace/]name-prefix)")
	fs.StringArrayVarP(&f.labels, "label", "l", nil, "flows from or to endpoints with this label selector (key=value,...)")
	fs.StringArrayVar(&f.fromLabels, "from-label", nil, "flows from endpoints with this label selector")
	fs.StringArrayVar(&f.toLabels, "to-label", nil, "flows to endpoints with this label selector")
	fs.StringSliceVar(&f.nodeNames, "node-name", nil, "flows seen on this node ([cluster/]name, * wildcards)")
	fs.StringSliceVar(&f.verdicts, "verdict", nil, "flows with this verdict (FORWARDED, DROPPED, ...)")
}
