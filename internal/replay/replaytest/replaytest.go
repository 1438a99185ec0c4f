// Package replaytest starts netpolgen replay servers for tests, as
// net/http/httptest does for HTTP: on a loopback port, stopped when the
// test ends.
package replaytest

import (
	"net"
	"testing"

	"github.com/netpolgen/netpolgen/internal/replay"
)

// Serve loads the captures and serves them on 127.0.0.1 until the test
// ends, returning the address to dial.
func Serve(tb testing.TB, opts replay.Options, paths ...string) string {
	tb.Helper()
	capture, err := replay.LoadCapture(paths...)
	if err != nil {
		tb.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := replay.NewServer(capture, opts).NewGRPCServer()
	go srv.Serve(lis)
	tb.Cleanup(srv.Stop)
	return lis.Addr().String()
}
