package observe

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"k8s.io/apimachinery/pkg/util/wait"
)

// TLSOptions are the hubble CLI's TLS settings.
type TLSOptions struct {
	Enabled       bool
	AllowInsecure bool // skip verifying the server's certificate
	CAFiles       []string
	CertFile      string // client certificate, for mutual TLS
	KeyFile       string
	ServerName    string
}

// DefaultServer is where the hubble CLI looks for Hubble by default: a
// port-forwarded hubble-relay.
const DefaultServer = "localhost:4245"

// transportCredentials builds the connection's credentials, naming the
// file at fault when one cannot be read.
func (o TLSOptions) transportCredentials() (credentials.TransportCredentials, error) {
	if !o.Enabled {
		if o.AllowInsecure || len(o.CAFiles) > 0 || o.CertFile != "" || o.KeyFile != "" || o.ServerName != "" {
			return nil, fmt.Errorf("TLS options were given without --tls: add --tls to use them")
		}
		return insecure.NewCredentials(), nil
	}
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         o.ServerName,
		InsecureSkipVerify: o.AllowInsecure, //nolint:gosec // the user asked for it with --tls-allow-insecure
	}
	if len(o.CAFiles) > 0 {
		pool := x509.NewCertPool()
		for _, f := range o.CAFiles {
			pem, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("cannot read --tls-ca-cert-files: %w", err)
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("--tls-ca-cert-files %s holds no PEM certificate", f)
			}
		}
		cfg.RootCAs = pool
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return nil, fmt.Errorf("--tls-client-cert-file and --tls-client-key-file go together: give both or neither")
	}
	if o.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("cannot load the client certificate %s / key %s: %w", o.CertFile, o.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return credentials.NewTLS(cfg), nil
}

// Backoff is a capped, jittered exponential backoff between reconnect
// attempts: the live client's and drift's. The jitter matters because
// learners sharded by node lose one Relay together and would otherwise
// come back to it in step.
type Backoff struct {
	Initial time.Duration
	Max     time.Duration
}

// backoffJitter spreads each delay over the sixth below it.
const backoffJitter = 0.2

// DefaultBackoff retries quickly at first, then every 30 seconds at most.
func DefaultBackoff() Backoff { return Backoff{Initial: 250 * time.Millisecond, Max: 30 * time.Second} }

// Delay is the wait before reconnect attempt n (1-based): Initial
// doubled n-1 times, at most Max, less up to a sixth at random.
func (b Backoff) Delay(n int) time.Duration {
	d := b.Initial
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	return wait.Jitter(time.Duration(float64(d)/(1+backoffJitter)), backoffJitter)
}

// dialOptions are the gRPC options of a live source: TLS, the source's
// own backoff for gRPC's reconnects, and large flow-control windows so a
// fast reader is not throttled on high-latency links.
func (o *GRPCOptions) dialOptions() ([]grpc.DialOption, error) {
	creds, err := o.TLS.transportCredentials()
	if err != nil {
		return nil, err
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoff.Config{
				BaseDelay: o.Backoff.Initial, Multiplier: 2, Jitter: 0.2, MaxDelay: o.Backoff.Max,
			},
			MinConnectTimeout: o.DialTimeout,
		}),
		grpc.WithInitialWindowSize(1 << 20),
		grpc.WithInitialConnWindowSize(1 << 20),
		grpc.WithReadBufferSize(256 << 10),
	}
	return append(opts, o.DialOptions...), nil
}
