package cli

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/netpolgen/netpolgen/internal/replay"
)

func newReplayCommand(streams Streams) *cobra.Command {
	var (
		listen     string
		opts       replay.Options
		certFile   string
		keyFile    string
		allowOpen  bool
		bufferSize int
		files      []string
	)
	cmd := &cobra.Command{
		Use:   "replay [--listen ADDR] [--from-file] FILE...",
		Short: "Serve captured flows over the Hubble API, as a stand-in Hubble server",
		Long: `Serve captured flows over Hubble's observer gRPC API, so any Hubble client
(hubble observe, netpolgen learn --server, Grafana) reads the capture as if
it were a live cluster. GetFlows honours --last/--first/--follow/--since/
--until and every filter Hubble has, built by Hubble's own filter code;
ServerStatus and GetNodes describe the capture.

Without --rate every flow is there from the start, like a full ring
buffer. With --rate the flows are released at that pace, and followers
see them arrive; --loop repeats the capture for ever, each round's times
shifted past the previous one's.

Reads hubble observe -o jsonpb output, Hubble exporter files and legacy
JSON arrays of flows, gzip or not. See docs/live.md.`,
		Example: `  netpolgen replay flows.json &
  hubble observe --server localhost:4245 --last 20
  netpolgen replay --listen 127.0.0.1:4245 --rate 500 --loop hubble-flows-*.json.gz`,
		RunE: func(cmd *cobra.Command, args []string) error {
			// Captures are --from-file in every command; replay also
			// takes them as arguments, as it always has.
			files = append(files, args...)
			if len(files) == 0 {
				return errors.New("no capture to serve: name files as arguments or with --from-file")
			}
			host, _, err := net.SplitHostPort(listen)
			if err != nil {
				return fmt.Errorf("--listen %q: want host:port, e.g. 127.0.0.1:4245", listen)
			}
			if ip := net.ParseIP(host); !allowOpen && (ip == nil || !ip.IsLoopback()) && host != "localhost" {
				return fmt.Errorf("--listen %s is not a loopback address: a replay serves whatever the capture holds to anyone who connects; add --allow-remote if that is what you want", listen)
			}
			if opts.Rate < 0 {
				return errors.New("--rate must be positive (flows per second), or 0 for all at once")
			}
			opts.BufferSize = bufferSize
			var serverOpts []grpc.ServerOption
			if (certFile == "") != (keyFile == "") {
				return errors.New("--tls-server-cert-file and --tls-server-key-file go together")
			}
			if certFile != "" {
				cert, err := tls.LoadX509KeyPair(certFile, keyFile)
				if err != nil {
					return fmt.Errorf("cannot load the server certificate %s / key %s: %w", certFile, keyFile, err)
				}
				serverOpts = append(serverOpts, grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})))
			}
			capture, err := replay.LoadCapture(files...)
			if err != nil {
				return err
			}
			lis, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("cannot listen on %s: %w; is another replay or a port-forward using it? pick another with --listen", listen, err)
			}
			addr := lis.Addr().String()
			pacing := "all at once"
			if opts.Rate > 0 {
				pacing = fmt.Sprintf("%g flows/s", opts.Rate)
			}
			if opts.Loop {
				pacing += ", looping"
			}
			logger(cmd, streams).Info("replay serving", "addr", addr, "flows", capture.FlowCount(), "events", len(capture.Events),
				"nodes", len(capture.Nodes), "files", len(files), "pacing", pacing, "try", "hubble observe --server "+addr+" --last 20")
			return replay.NewServer(capture, opts).Serve(cmd.Context(), lis, serverOpts...)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&files, "from-file", "f", nil, "capture to serve (repeatable); arguments are captures too")
	fl.StringVar(&listen, "listen", "127.0.0.1:4245", "address to serve the Hubble API on")
	fl.Float64Var(&opts.Rate, "rate", 0, "release flows at this many per second (0: all at once)")
	fl.BoolVar(&opts.Loop, "loop", false, "repeat the capture for ever, shifting times each round")
	fl.IntVar(&bufferSize, "buffer-size", 0, "events the simulated ring buffer holds (0: one whole capture)")
	fl.StringVar(&certFile, "tls-server-cert-file", "", "serve TLS with this certificate (PEM)")
	fl.StringVar(&keyFile, "tls-server-key-file", "", "the key of --tls-server-cert-file (PEM)")
	fl.BoolVar(&allowOpen, "allow-remote", false, "allow a --listen address that is not loopback")
	return cmd
}
