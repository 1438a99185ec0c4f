package hubble

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Problem is what went wrong talking to Hubble, sorted by what a caller
// can do about it. A command line turns it into advice about its flags.
type Problem int

const (
	// ProblemOther is an error with no advice beyond its text.
	ProblemOther Problem = iota
	// ProblemNotTLS: TLS is on, but the server speaks plaintext.
	ProblemNotTLS
	// ProblemUnknownAuthority: the server's certificate is not signed by
	// a CA in TLSOptions.CAFiles (or the system's).
	ProblemUnknownAuthority
	// ProblemServerName: the server's certificate does not hold the name
	// TLS verifies (TLSOptions.ServerName or the address).
	ProblemServerName
	// ProblemClientCertificate: the server wants a client certificate.
	ProblemClientCertificate
	// ProblemTLS is another TLS failure.
	ProblemTLS
	// ProblemRefused: nobody listens at the address.
	ProblemRefused
	// ProblemNoSuchHost: the address's host name does not resolve.
	ProblemNoSuchHost
	// ProblemMayNeedTLS: TLS is off and the server hung up in a way a TLS
	// server does when it is spoken to in plaintext.
	ProblemMayNeedTLS
	// ProblemTimeout: the server did not answer in time.
	ProblemTimeout
	// ProblemNotObserver: the server does not serve Hubble's observer API.
	ProblemNotObserver
	// ProblemRejected: the server refused the request as invalid.
	ProblemRejected
)

// Error is a failure to reach Hubble or to read from it.
type Error struct {
	Server  string
	Problem Problem
	// Err is the gRPC or network error underneath.
	Err error
}

func (e *Error) Unwrap() error { return e.Err }

func (e *Error) Error() string {
	msg := errorText(e.Err)
	switch e.Problem {
	case ProblemNotTLS:
		return fmt.Sprintf("TLS handshake with Hubble at %s failed: %s: the server does not speak TLS", e.Server, cause(msg))
	case ProblemUnknownAuthority:
		return fmt.Sprintf("TLS handshake with Hubble at %s failed: %s: its certificate is not signed by a CA you trust", e.Server, cause(msg))
	case ProblemServerName:
		return fmt.Sprintf("TLS handshake with Hubble at %s failed: %s: its certificate does not name this server", e.Server, cause(msg))
	case ProblemClientCertificate:
		return fmt.Sprintf("TLS handshake with Hubble at %s failed: %s: the server wants a client certificate", e.Server, cause(msg))
	case ProblemTLS:
		return fmt.Sprintf("TLS handshake with Hubble at %s failed: %s", e.Server, cause(msg))
	case ProblemRefused:
		return fmt.Sprintf("cannot reach Hubble at %s: connection refused", e.Server)
	case ProblemNoSuchHost:
		return fmt.Sprintf("cannot reach Hubble at %s: no such host", e.Server)
	case ProblemMayNeedTLS:
		return fmt.Sprintf("cannot talk to Hubble at %s: %s; it may require TLS", e.Server, cause(msg))
	case ProblemTimeout:
		return fmt.Sprintf("cannot reach Hubble at %s: timed out", e.Server)
	case ProblemNotObserver:
		return fmt.Sprintf("the server at %s does not serve the Hubble observer API (%s)", e.Server, msg)
	case ProblemRejected:
		return fmt.Sprintf("Hubble at %s refused the request: %s", e.Server, msg)
	}
	if msg == "" {
		return fmt.Sprintf("cannot reach Hubble at %s", e.Server)
	}
	return fmt.Sprintf("Hubble at %s: %s", e.Server, msg)
}

// retryable reports whether a stream error may go away by itself: a
// server restarting, a network blip. A TLS mismatch or a refused request
// will not, and retrying would only hide it.
func retryable(err error) bool {
	if isTLS(tlsProblem(err)) {
		return false
	}
	switch status.Code(err) {
	case codes.InvalidArgument, codes.Unimplemented, codes.PermissionDenied, codes.Unauthenticated,
		codes.FailedPrecondition, codes.OutOfRange, codes.NotFound, codes.AlreadyExists:
		return false
	}
	return true
}

func isTLS(p Problem) bool { return p >= ProblemNotTLS && p <= ProblemTLS }

// tlsProblem sorts a TLS failure in err, or returns ProblemOther when err
// is not one.
func tlsProblem(err error) Problem {
	msg := errorText(err)
	switch {
	case strings.Contains(msg, "first record does not look like a TLS handshake"):
		return ProblemNotTLS
	case strings.Contains(msg, "certificate signed by unknown authority"):
		return ProblemUnknownAuthority
	case strings.Contains(msg, "certificate is valid for"), strings.Contains(msg, "doesn't contain any IP SANs"):
		return ProblemServerName
	case strings.Contains(msg, "certificate required"), strings.Contains(msg, "bad certificate"):
		return ProblemClientCertificate
	case strings.Contains(msg, "tls:"), strings.Contains(msg, "x509:"):
		return ProblemTLS
	}
	return ProblemOther
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

// classify turns a connection or stream error into an *Error saying what
// went wrong; a cancelled context is returned as it is.
func classify(addr string, tlsOn bool, err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	e := &Error{Server: addr, Err: err}
	if err == nil {
		return e
	}
	msg := errorText(err)
	if p := tlsProblem(err); p != ProblemOther {
		e.Problem = p
		return e
	}
	switch {
	case strings.Contains(msg, "connection refused"):
		e.Problem = ProblemRefused
	case strings.Contains(msg, "no such host"):
		e.Problem = ProblemNoSuchHost
	case !tlsOn && (strings.Contains(msg, "server preface") || strings.Contains(msg, "connection reset") ||
		strings.Contains(msg, "EOF") || strings.Contains(msg, "frame too large")):
		e.Problem = ProblemMayNeedTLS
	case status.Code(err) == codes.DeadlineExceeded || strings.Contains(msg, "i/o timeout"):
		e.Problem = ProblemTimeout
	case status.Code(err) == codes.Unimplemented:
		e.Problem = ProblemNotObserver
	case status.Code(err) == codes.InvalidArgument:
		e.Problem = ProblemRejected
	}
	return e
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

// OptionError is a value of Options that cannot work.
type OptionError struct {
	// Field is the Options field at fault, as "TLS.CAFiles".
	Field string
	// Reason says what is wrong, following the field's name; it names
	// other fields as {TLS.KeyFile}.
	Reason string
	Err    error
}

func (e *OptionError) Unwrap() error { return e.Err }

func (e *OptionError) Error() string {
	return e.Explain(func(field string) string { return "Options." + field })
}

// Explain says what is wrong, naming each field with name: a command line
// passes the flag that sets it.
func (e *OptionError) Explain(name func(field string) string) string {
	var b strings.Builder
	b.WriteString(name(e.Field))
	b.WriteByte(' ')
	reason := e.Reason
	for {
		open := strings.IndexByte(reason, '{')
		end := strings.IndexByte(reason, '}')
		if open < 0 || end < open {
			break
		}
		b.WriteString(reason[:open])
		b.WriteString(name(reason[open+1 : end]))
		reason = reason[end+1:]
	}
	b.WriteString(reason)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}
