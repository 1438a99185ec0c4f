// Command netpolgen learns a cluster's real communication graph from
// Hubble flows and writes least-privilege network policy for it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/netpolgen/netpolgen/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, cli.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}, os.Args[1:])
	stop()
	os.Exit(code)
}
