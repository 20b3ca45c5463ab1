// Command mptcp-autopm keeps the Linux MPTCP in-kernel path manager
// configured as the machine's networks change, and covers every `ip mptcp`
// sub-command for inspecting and changing the path manager by hand.
package main

import (
	"errors"
	"fmt"
	"os"
	"sort"
)

// A command is one sub-command. Files of this package register theirs in
// init, so that the daemon and the ip-mptcp sub-commands stay apart.
type command struct {
	summary string
	run     func(args []string) error
}

var commands = map[string]command{}

func register(name, summary string, run func(args []string) error) {
	commands[name] = command{summary: summary, run: run}
}

// exitError carries a process exit code. iproute2 exits 255 on usage
// errors and 2 when the kernel refuses; scripts rely on the difference.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usage() {
	fmt.Fprintln(os.Stderr, "usage: mptcp-autopm COMMAND [ARGS]")
	fmt.Fprintln(os.Stderr)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-10s %s\n", n, commands[n].summary)
	}
}

func main() {
	os.Exit(dispatch(os.Args[1:]))
}

func dispatch(args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage()
		if len(args) == 0 {
			return 255
		}

		return 0
	}

	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "mptcp-autopm: unknown command %q\n", args[0])
		usage()

		return 255
	}

	err := cmd.run(args[1:])
	if err == nil {
		return 0
	}

	fmt.Fprintln(os.Stderr, "Error: "+err.Error())
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}

	return 1
}
