// Command peakrss runs a command and prints its peak resident set size in
// bytes, so benchmarks can report memory without depending on GNU time
// being installed. The command reads peakrss's standard input; its
// standard output is discarded and its standard error passed on.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: peakrss -- COMMAND [ARG...]")
		os.Exit(2)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stderr = os.Stdin, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "peakrss: %s: %v\n", args[0], err)
		os.Exit(1)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		fmt.Fprintln(os.Stderr, "peakrss: resource usage is not available on this system")
		os.Exit(1)
	}
	// Linux reports ru_maxrss in KiB.
	fmt.Println(ru.Maxrss * 1024)
}
