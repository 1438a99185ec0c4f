package hubble_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	observerpb "github.com/cilium/cilium/api/v1/observer"
	relaypb "github.com/cilium/cilium/api/v1/relay"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/netpolgen/netpolgen/internal/capturetest"
	"github.com/netpolgen/netpolgen/internal/replay"
	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/observe/hubble"
)

// groupedGRPCCapture writes n flows where every three share a timestamp, so a
// stream broken anywhere leaves delivered flows at the resume time.
func groupedGRPCCapture(t *testing.T, n int) (string, []*observerpb.GetFlowsResponse) {
	t.Helper()
	t0 := time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)
	var resps []*observerpb.GetFlowsResponse
	for i := 0; i < n; i++ {
		ts := timestamppb.New(t0.Add(time.Duration(i/3) * time.Millisecond))
		ns := []string{"shop", "web"}[i%2]
		resps = append(resps, &observerpb.GetFlowsResponse{
			NodeName: "node-1", Time: ts,
			ResponseTypes: &observerpb.GetFlowsResponse_Flow{Flow: &flowpb.Flow{
				Time: ts, NodeName: "node-1", Verdict: flowpb.Verdict_FORWARDED,
				Source:      &flowpb.Endpoint{Namespace: ns, PodName: "client-1", Labels: []string{"k8s:app=client"}},
				Destination: &flowpb.Endpoint{Namespace: "shop", PodName: "server-1", Labels: []string{"k8s:app=server"}},
				L4:          &flowpb.Layer4{Protocol: &flowpb.Layer4_TCP{TCP: &flowpb.TCP{SourcePort: uint32(10000 + i), DestinationPort: 8080}}},
			}},
		})
	}
	return capturetest.Write(t, resps), resps
}

// serveReplay serves a capture on addr ("127.0.0.1:0" for any port) and
// returns the server and the address it listens on.
func serveReplay(t *testing.T, path, addr string, opts replay.Options, serverOpts ...grpc.ServerOption) (*grpc.Server, string) {
	t.Helper()
	c, err := replay.LoadCapture(path)
	if err != nil {
		t.Fatal(err)
	}
	var lis net.Listener
	// The port of a stopped server can take a moment to be free again.
	for i := 0; ; i++ {
		if lis, err = net.Listen("tcp", addr); err == nil || i == 50 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	g := replay.NewServer(c, opts).NewGRPCServer(serverOpts...)
	go g.Serve(lis)
	t.Cleanup(g.Stop)
	return g, lis.Addr().String()
}

// flowKey identifies a flow of the test captures uniquely.
func flowKey(f *observe.Flow) string {
	return fmt.Sprintf("%d/%s/%d", f.Time.UnixNano(), f.Source.Namespace, f.L4.SrcPort)
}

func readGRPC(t *testing.T, src observe.Source) []observe.Flow {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []observe.Flow
	for {
		rec, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("after %d flows: %v", len(out), err)
		}
		if rec.Kind == observe.KindFlow {
			out = append(out, rec.Flow)
		}
	}
}

func fastGRPCOptions(addr string) hubble.Options {
	return hubble.Options{
		Server: addr, DialTimeout: 2 * time.Second,
		Backoff: observe.Backoff{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond},
	}
}

func TestSourceMatchesCapture(t *testing.T) {
	path, resps := groupedGRPCCapture(t, 300)
	_, addr := serveReplay(t, path, "127.0.0.1:0", replay.Options{})
	tests := []struct {
		name   string
		adjust func(*hubble.Options)
		want   func(i int, r *observerpb.GetFlowsResponse) bool
	}{
		{name: "all", adjust: func(*hubble.Options) {}, want: func(int, *observerpb.GetFlowsResponse) bool { return true }},
		{name: "last 10", adjust: func(o *hubble.Options) { o.Number = 10 }, want: func(i int, _ *observerpb.GetFlowsResponse) bool { return i >= 290 }},
		{
			name:   "namespace filter sent to the server",
			adjust: func(o *hubble.Options) { o.Whitelist = []*flowpb.FlowFilter{{SourcePod: []string{"web/"}}} },
			want: func(_ int, r *observerpb.GetFlowsResponse) bool {
				return r.GetFlow().GetSource().GetNamespace() == "web"
			},
		},
		{
			name: "since and until",
			adjust: func(o *hubble.Options) {
				o.Since, o.Until = resps[30].GetTime().AsTime(), resps[59].GetTime().AsTime()
			},
			want: func(i int, _ *observerpb.GetFlowsResponse) bool { return i >= 30 && i < 60 },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := fastGRPCOptions(addr)
			tt.adjust(&opts)
			src, err := hubble.NewSource(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			got := readGRPC(t, src)
			var want []observe.Flow
			for i, r := range resps {
				if tt.want(i, r) {
					want = append(want, observe.FromProto(r.GetFlow()))
				}
			}
			if len(got) != len(want) {
				t.Fatalf("got %d flows, want %d", len(got), len(want))
			}
			for i := range want {
				if flowKey(&got[i]) != flowKey(&want[i]) {
					t.Fatalf("flow %d is %s, want %s", i, flowKey(&got[i]), flowKey(&want[i]))
				}
			}
			if st := src.Stats(); st.Flows != uint64(len(want)) {
				t.Errorf("Stats().Flows = %d, want %d", st.Flows, len(want))
			}
		})
	}
}

// TestSourceSurvivesServerRestarts kills the server twice mid-stream
// and restarts it on the same port: every flow must arrive exactly once.
func TestSourceSurvivesServerRestarts(t *testing.T) {
	// Paced so the server is never far ahead of the reader: with the
	// whole capture sent into the client's buffers before a kill, there
	// would be nothing left to resume.
	const n = 1200
	_, resps := groupedGRPCCapture(t, n)
	// A lost-events notice early on: servers send those whatever since
	// says, so each resumed stream repeats it and it must count once.
	lost := &observerpb.GetFlowsResponse{
		Time: resps[10].GetTime(), NodeName: "node-1",
		ResponseTypes: &observerpb.GetFlowsResponse_LostEvents{LostEvents: &flowpb.LostEvent{
			Source: flowpb.LostEventSource_PERF_EVENT_RING_BUFFER, NumEventsLost: 7,
		}},
	}
	node := &observerpb.GetFlowsResponse{
		Time: resps[20].GetTime(),
		ResponseTypes: &observerpb.GetFlowsResponse_NodeStatus{NodeStatus: &relaypb.NodeStatusEvent{
			StateChange: relaypb.NodeState_NODE_CONNECTED, NodeNames: []string{"node-2"},
		}},
	}
	path := capturetest.Write(t, append(append(append([]*observerpb.GetFlowsResponse{}, resps[:10]...), lost, node), resps[10:]...))
	opts := replay.Options{Rate: 400}
	server, addr := serveReplay(t, path, "127.0.0.1:0", opts)

	gopts := fastGRPCOptions(addr)
	gopts.Follow = true
	gopts.Since = resps[0].GetTime().AsTime()
	src, err := hubble.NewSource(context.Background(), gopts)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// The reader itself kills and restarts the server at fixed counts, so
	// the kills land at the same place however loaded the machine is.
	killAt := map[int]bool{100: true, 500: true}
	var got []observe.Flow
	for len(got) < n {
		rec, err := src.Next(ctx)
		if err != nil {
			t.Fatalf("after %d flows: %v", len(got), err)
		}
		if rec.Kind != observe.KindFlow {
			continue
		}
		got = append(got, rec.Flow)
		if killAt[len(got)] {
			server.Stop()
			time.Sleep(150 * time.Millisecond) // down for a while
			server, _ = serveReplay(t, path, addr, opts)
		}
	}
	seen := map[string]int{}
	for i := range got {
		seen[flowKey(&got[i])]++
	}
	for _, r := range resps {
		f := observe.FromProto(r.GetFlow())
		if c := seen[flowKey(&f)]; c != 1 {
			t.Errorf("flow %s arrived %d times, want exactly once", flowKey(&f), c)
		}
	}
	live := src.Live()
	if live.Reconnects < 2 {
		t.Errorf("Reconnects = %d, want at least 2 (one per restart)", live.Reconnects)
	}
	// The last flow delivered before each break shares the resume time, so
	// the resumed stream repeats it and the source must drop it.
	if live.Duplicates < 2 {
		t.Errorf("Duplicates = %d, want at least 2 repeats dropped", live.Duplicates)
	}
	if st := src.Stats(); st.Flows != n || st.LostNotices != 1 || st.TotalLost() != 7 || st.Skipped[observe.KindNodeStatus] != 1 {
		t.Errorf("Stats() = %d flows, %d lost notices, %d lost, %d node notices; want %d, 1, 7, 1",
			st.Flows, st.LostNotices, st.TotalLost(), st.Skipped[observe.KindNodeStatus], n)
	}
}

func TestSourceCountsLostEventsAndNodeNotices(t *testing.T) {
	_, resps := groupedGRPCCapture(t, 4)
	t1 := resps[1].GetTime()
	resps = append(resps[:2], append([]*observerpb.GetFlowsResponse{
		{Time: t1, NodeName: "node-1", ResponseTypes: &observerpb.GetFlowsResponse_LostEvents{LostEvents: &flowpb.LostEvent{
			Source: flowpb.LostEventSource_HUBBLE_RING_BUFFER, NumEventsLost: 7,
		}}},
		{Time: t1, ResponseTypes: &observerpb.GetFlowsResponse_NodeStatus{NodeStatus: &relaypb.NodeStatusEvent{
			StateChange: relaypb.NodeState_NODE_UNAVAILABLE, NodeNames: []string{"node-2"}, Message: "dial timeout",
		}}},
	}, resps[2:]...)...)
	path := capturetest.Write(t, resps)
	_, addr := serveReplay(t, path, "127.0.0.1:0", replay.Options{})
	var notices []observe.NodeStatus
	opts := fastGRPCOptions(addr)
	var src *hubble.Source
	opts.OnNodeStatus = func(n observe.NodeStatus) {
		notices = append(notices, n)
		_ = src.Stats() // a callback may look at the source
	}
	src, err := hubble.NewSource(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var lost []observe.LostEvent
	ctx := context.Background()
	for {
		rec, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec.Kind == observe.KindLostEvents {
			lost = append(lost, rec.Lost)
		}
	}
	st := src.Stats()
	if st.Flows != 4 || st.TotalLost() != 7 || st.LostNotices != 1 || len(lost) != 1 || lost[0].NodeName != "node-1" {
		t.Errorf("stats %+v, lost records %+v: want 4 flows and one notice of 7 lost on node-1", st, lost)
	}
	if st.Skipped[observe.KindNodeStatus] != 1 || len(notices) != 1 || notices[0].NodeNames[0] != "node-2" {
		t.Errorf("node notices %+v, skipped %v: want node-2 unavailable reported", notices, st.Skipped)
	}
	if u := src.Live().Unavailable; u != 1 {
		t.Errorf("Live().Unavailable = %d, want 1", u)
	}
}

func TestSourceErrorsSayWhatWentWrong(t *testing.T) {
	path, _ := groupedGRPCCapture(t, 3)
	_, plainAddr := serveReplay(t, path, "127.0.0.1:0", replay.Options{})
	certFile, keyFile := selfSignedCert(t)
	serverCert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	_, tlsAddr := serveReplay(t, path, "127.0.0.1:0", replay.Options{},
		grpc.Creds(credentials.NewServerTLSFromCert(&serverCert)))
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()

	tests := []struct {
		name    string
		addr    string
		tls     hubble.TLSOptions
		problem hubble.Problem // for a connection that must fail
		field   string         // for options that cannot work
		ok      bool
	}{
		{name: "nobody listening", addr: closedAddr, problem: hubble.ProblemRefused},
		{name: "tls against plaintext", addr: plainAddr, tls: hubble.TLSOptions{Enabled: true, AllowInsecure: true}, problem: hubble.ProblemNotTLS},
		{name: "plaintext against tls", addr: tlsAddr, problem: hubble.ProblemMayNeedTLS},
		{name: "unknown CA", addr: tlsAddr, tls: hubble.TLSOptions{Enabled: true}, problem: hubble.ProblemUnknownAuthority},
		{name: "wrong server name", addr: tlsAddr, tls: hubble.TLSOptions{Enabled: true, CAFiles: []string{certFile}, ServerName: "relay.example"}, problem: hubble.ProblemServerName},
		{name: "trusted CA", addr: tlsAddr, tls: hubble.TLSOptions{Enabled: true, CAFiles: []string{certFile}, ServerName: "localhost"}, ok: true},
		{name: "insecure TLS", addr: tlsAddr, tls: hubble.TLSOptions{Enabled: true, AllowInsecure: true}, ok: true},
		{name: "tls:// address", addr: "tls://" + tlsAddr, tls: hubble.TLSOptions{AllowInsecure: true}, ok: true},
		{name: "TLS options without TLS", addr: plainAddr, tls: hubble.TLSOptions{AllowInsecure: true}, field: "TLS.Enabled"},
		{name: "unreadable CA", addr: tlsAddr, tls: hubble.TLSOptions{Enabled: true, CAFiles: []string{keyFile + ".absent"}}, field: "TLS.CAFiles"},
		{name: "certificate without key", addr: tlsAddr, tls: hubble.TLSOptions{Enabled: true, CertFile: certFile}, field: "TLS.CertFile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := fastGRPCOptions(tt.addr)
			// Long enough for a TLS handshake on a loaded machine; the
			// refused case gives up when it passes.
			opts.DialTimeout = 2 * time.Second
			opts.TLS = tt.tls
			src, err := hubble.NewSource(context.Background(), opts)
			if tt.ok {
				if err != nil {
					t.Fatalf("want a working connection, got %v", err)
				}
				defer src.Close()
				if got := readGRPC(t, src); len(got) != 3 {
					t.Fatalf("read %d flows, want 3", len(got))
				}
				return
			}
			if err == nil {
				src.Close()
				t.Fatal("connected, want an error")
			}
			t.Logf("error: %v", err)
			if tt.field != "" {
				var oe *hubble.OptionError
				if !errors.As(err, &oe) || oe.Field != tt.field {
					t.Fatalf("error %v (%T): want an OptionError on %s", err, err, tt.field)
				}
				if !strings.Contains(err.Error(), "Options."+tt.field) {
					t.Errorf("error %q does not name Options.%s", err, tt.field)
				}
				return
			}
			var he *hubble.Error
			if !errors.As(err, &he) || he.Problem != tt.problem {
				t.Fatalf("error %v (%T %+v): want problem %d", err, err, he, tt.problem)
			}
			if !strings.Contains(err.Error(), strings.TrimPrefix(tt.addr, "tls://")) {
				t.Errorf("error %q does not name the server", err)
			}
			if strings.Contains(err.Error(), "--") {
				t.Errorf("error %q names a flag: flags are the command line's words", err)
			}
		})
	}
}

// selfSignedCert writes a certificate for localhost and 127.0.0.1 and its
// key, and returns their paths.
func selfSignedCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestSourceHonoursEachCallsContext ends a Next blocked on a quiet
// stream with its context, then goes on reading with a new one: nothing
// is lost or repeated across the interruption.
func TestSourceHonoursEachCallsContext(t *testing.T) {
	const n = 30
	path, resps := groupedGRPCCapture(t, n)
	_, addr := serveReplay(t, path, "127.0.0.1:0", replay.Options{Rate: 60})
	opts := fastGRPCOptions(addr)
	opts.Follow, opts.Since = true, resps[0].GetTime().AsTime()
	src, err := hubble.NewSource(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	// A follower of a finished capture gets nothing more: its Next must
	// still end with its context.
	_, quietAddr := serveReplay(t, path, "127.0.0.1:0", replay.Options{})
	quietOpts := fastGRPCOptions(quietAddr)
	quietOpts.Follow = true
	quiet, err := hubble.NewSource(context.Background(), quietOpts)
	if err != nil {
		t.Fatal(err)
	}
	defer quiet.Close()
	qctx, qcancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer qcancel()
	begin := time.Now()
	if _, err := quiet.Next(qctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next on a quiet stream returned %v, want DeadlineExceeded", err)
	}
	// Generous for loaded CI machines: without watching the context,
	// Next would block until the test's own timeout.
	if waited := time.Since(begin); waited > 5*time.Second {
		t.Fatalf("Next on a quiet stream returned %v after its context ended", waited)
	}

	seen := map[string]int{}
	read := func(ctx context.Context) error {
		for len(seen) < n {
			rec, err := src.Next(ctx)
			if err != nil {
				return err
			}
			seen[flowKey(&rec.Flow)]++
		}
		return nil
	}
	short, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	start := time.Now()
	err = read(short)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next under a 200ms context returned %v, want DeadlineExceeded", err)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Fatalf("Next returned %v after its context ended", waited)
	}
	if len(seen) == n {
		t.Fatalf("read all %d flows in 200ms at 60/s: pacing is broken and the test cannot tell an interruption", n)
	}
	long, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := read(long); err != nil {
		t.Fatal(err)
	}
	for k, c := range seen {
		if c != 1 {
			t.Errorf("flow %s arrived %d times", k, c)
		}
	}
}

// TestSourceResumesALastNRead breaks a --last N read (no follow) in
// the middle and checks the resumed stream delivers exactly the rest.
func TestSourceResumesALastNRead(t *testing.T) {
	// Far more than the flow-control windows hold, so the server is still
	// sending when it is killed.
	const n, last = 20000, 15000
	path, resps := groupedGRPCCapture(t, n)
	server, addr := serveReplay(t, path, "127.0.0.1:0", replay.Options{})
	opts := fastGRPCOptions(addr)
	opts.Number = last
	src, err := hubble.NewSource(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []observe.Flow
	for {
		rec, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("after %d flows: %v", len(got), err)
		}
		got = append(got, rec.Flow)
		if len(got) == 3000 {
			server.Stop()
			server, _ = serveReplay(t, path, addr, replay.Options{})
		}
	}
	if len(got) != last {
		t.Fatalf("read %d flows, want the last %d", len(got), last)
	}
	for i := range got {
		want := observe.FromProto(resps[n-last+i].GetFlow())
		if flowKey(&got[i]) != flowKey(&want) {
			t.Fatalf("flow %d is %s, want %s", i, flowKey(&got[i]), flowKey(&want))
		}
	}
	if src.Live().Reconnects == 0 {
		t.Error("the server was restarted mid-read but the source never reconnected")
	}
}
