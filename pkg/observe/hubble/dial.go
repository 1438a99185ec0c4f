package hubble

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
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
			return nil, &OptionError{Field: "TLS.Enabled", Reason: "is off but other TLS settings were given: set {TLS.Enabled} to use them"}
		}
		return insecure.NewCredentials(), nil
	}
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         o.ServerName,
		InsecureSkipVerify: o.AllowInsecure, //nolint:gosec // the caller asked for it
	}
	if len(o.CAFiles) > 0 {
		pool := x509.NewCertPool()
		for _, f := range o.CAFiles {
			pem, err := os.ReadFile(f)
			if err != nil {
				return nil, &OptionError{Field: "TLS.CAFiles", Reason: "cannot be read", Err: err}
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, &OptionError{Field: "TLS.CAFiles", Reason: fmt.Sprintf("%s holds no PEM certificate", f)}
			}
		}
		cfg.RootCAs = pool
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return nil, &OptionError{Field: "TLS.CertFile", Reason: "and {TLS.KeyFile} go together: give both or neither"}
	}
	if o.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, &OptionError{Field: "TLS.CertFile", Reason: fmt.Sprintf("%s (key %s) cannot be loaded", o.CertFile, o.KeyFile), Err: err}
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return credentials.NewTLS(cfg), nil
}

// dialOptions are the gRPC options of a live source: TLS, the source's
// own backoff for gRPC's reconnects, and large flow-control windows so a
// fast reader is not throttled on high-latency links.
func (o *Options) dialOptions() ([]grpc.DialOption, error) {
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
