// Package hubble reads flows from a Hubble server or Relay over its
// observer gRPC API, with the hubble CLI's settings (Options, TLSOptions).
//
// Source survives broken streams and server restarts: it reconnects with
// a jittered backoff and resumes from the time of the last flow it
// delivered, dropping the repeats, so no flow is lost or counted twice.
//
// Errors are typed so a caller can say them in its own words: *Error
// carries a Problem (connection refused, TLS mismatch, ...) and
// *OptionError names the Options field at fault.
package hubble
