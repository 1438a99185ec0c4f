package observe

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// retryable reports whether a stream error may go away by itself: a
// server restarting, a network blip. A TLS mismatch or a refused request
// will not, and retrying would only hide it.
func retryable(err error) bool {
	if tlsProblem(err) != "" {
		return false
	}
	switch status.Code(err) {
	case codes.InvalidArgument, codes.Unimplemented, codes.PermissionDenied, codes.Unauthenticated,
		codes.FailedPrecondition, codes.OutOfRange, codes.NotFound, codes.AlreadyExists:
		return false
	}
	return true
}

// tlsProblem names what to do about a TLS failure in err, or "" when err
// is not one.
func tlsProblem(err error) string {
	msg := errorText(err)
	switch {
	case strings.Contains(msg, "first record does not look like a TLS handshake"):
		return "the server does not speak TLS: drop --tls"
	case strings.Contains(msg, "certificate signed by unknown authority"):
		return "its certificate is not signed by a CA you trust: pass the CA with --tls-ca-cert-files, or skip verification with --tls-allow-insecure"
	case strings.Contains(msg, "certificate is valid for"), strings.Contains(msg, "doesn't contain any IP SANs"):
		return "its certificate does not name this server: set --tls-server-name to a name it holds"
	case strings.Contains(msg, "certificate required"), strings.Contains(msg, "bad certificate"):
		return "the server wants a client certificate: pass --tls-client-cert-file and --tls-client-key-file"
	case strings.Contains(msg, "tls:"), strings.Contains(msg, "x509:"):
		return "check the --tls options"
	}
	return ""
}

func errorText(err error) string {
	if err == nil {
		return ""
	}
	if st, ok := status.FromError(err); ok {
		return st.Message()
	}
	return err.Error()
}

// explain turns a connection or stream error into one sentence naming the
// address, the cause, and what to try.
func explain(addr string, tlsOn bool, err error) error {
	if err == nil {
		return fmt.Errorf("cannot reach Hubble at %s", addr)
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	msg := errorText(err)
	if hint := tlsProblem(err); hint != "" {
		return fmt.Errorf("TLS handshake with Hubble at %s failed: %s; %s", addr, cause(msg), hint)
	}
	switch {
	case strings.Contains(msg, "connection refused"):
		return fmt.Errorf("cannot reach Hubble at %s: connection refused; is hubble-relay port-forwarded? try -P (--port-forward), or point --server at Hubble", addr)
	case strings.Contains(msg, "no such host"):
		return fmt.Errorf("cannot reach Hubble at %s: no such host; check --server", addr)
	case !tlsOn && (strings.Contains(msg, "server preface") || strings.Contains(msg, "connection reset") ||
		strings.Contains(msg, "EOF") || strings.Contains(msg, "frame too large")):
		return fmt.Errorf("cannot talk to Hubble at %s: %s; it may require TLS: try --tls (with --tls-ca-cert-files or --tls-allow-insecure)", addr, cause(msg))
	case status.Code(err) == codes.DeadlineExceeded || strings.Contains(msg, "i/o timeout"):
		return fmt.Errorf("cannot reach Hubble at %s: timed out; check --server and the network, or raise --timeout", addr)
	case status.Code(err) == codes.Unimplemented:
		return fmt.Errorf("the server at %s does not serve the Hubble observer API (%s): is --server a Hubble server or Relay?", addr, msg)
	case status.Code(err) == codes.InvalidArgument:
		return fmt.Errorf("Hubble at %s refused the request: %s", addr, msg)
	}
	return fmt.Errorf("Hubble at %s: %s", addr, msg)
}

// cause trims gRPC's wrapping of a dial error down to its root.
func cause(msg string) string {
	if i := strings.LastIndex(msg, "desc = "); i >= 0 {
		msg = msg[i+len("desc = "):]
	}
	msg = strings.Trim(msg, `"`)
	msg = strings.TrimPrefix(msg, "transport: ")
	msg = strings.TrimPrefix(msg, "authentication handshake failed: ")
	return msg
}
