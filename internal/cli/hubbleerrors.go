package cli

import (
	"errors"
	"strings"

	"google.golang.org/grpc/status"

	"github.com/netpolgen/netpolgen/pkg/observe/hubble"
)

// hubbleFlagName names the flag that sets a field of hubble.Options, so
// the library's errors reach the user in the words they typed.
func hubbleFlagName(field string) string {
	switch field {
	case "Server":
		return "--server"
	case "TLS.Enabled":
		return "--tls"
	case "TLS.AllowInsecure":
		return "--tls-allow-insecure"
	case "TLS.CAFiles":
		return "--tls-ca-cert-files"
	case "TLS.CertFile":
		return "--tls-client-cert-file"
	case "TLS.KeyFile":
		return "--tls-client-key-file"
	case "TLS.ServerName":
		return "--tls-server-name"
	case "DialTimeout":
		return "--timeout"
	case "RequestTimeout":
		return "--request-timeout"
	case "First":
		return "--first"
	case "Follow":
		return "--follow"
	case "Number":
		return "--last"
	}
	return field
}

// hubbleAdvice is what to try for a problem talking to Hubble, in flags.
func hubbleAdvice(p hubble.Problem) string {
	switch p {
	case hubble.ProblemNotTLS:
		return "drop --tls"
	case hubble.ProblemUnknownAuthority:
		return "pass the CA with --tls-ca-cert-files, or skip verification with --tls-allow-insecure"
	case hubble.ProblemServerName:
		return "set --tls-server-name to a name the certificate holds"
	case hubble.ProblemClientCertificate:
		return "pass --tls-client-cert-file and --tls-client-key-file"
	case hubble.ProblemTLS:
		return "check the --tls options"
	case hubble.ProblemRefused:
		return "is hubble-relay port-forwarded? try -P (--port-forward), or point --server at Hubble"
	case hubble.ProblemNoSuchHost:
		return "check --server"
	case hubble.ProblemMayNeedTLS:
		return "try --tls (with --tls-ca-cert-files or --tls-allow-insecure)"
	case hubble.ProblemTimeout:
		return "check --server and the network, or raise --timeout"
	case hubble.ProblemNotObserver:
		return "is --server a Hubble server or Relay?"
	}
	return ""
}

// phraseError says err in the command line's words: a hubble.Options
// field becomes the flag that sets it, and a problem reaching Hubble
// gets the flags to try.
func phraseError(err error) string {
	msg := err.Error()
	var opt *hubble.OptionError
	if errors.As(err, &opt) {
		msg = strings.Replace(msg, opt.Error(), opt.Explain(hubbleFlagName), 1)
	}
	var he *hubble.Error
	if errors.As(err, &he) {
		if advice := hubbleAdvice(he.Problem); advice != "" {
			msg += "; " + advice
		}
	}
	return msg
}

// statusText is a gRPC error's message without gRPC's wrapping.
func statusText(err error) string {
	if st, ok := status.FromError(err); ok {
		return st.Message()
	}
	return err.Error()
}
