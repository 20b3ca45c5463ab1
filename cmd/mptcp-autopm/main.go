// Command mptcp-autopm keeps the Linux MPTCP in-kernel path manager
// configured as the machine's networks change, and covers every `ip mptcp`
// sub-command for inspecting and changing the path manager by hand.
package main

import (
	"errors"
	"flag"
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
	fmt.Fprintln(os.Stderr, "usage: mptcp-autopm [OPTIONS] COMMAND [ARGS]")
	fmt.Fprintln(os.Stderr)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(os.Stderr)
	fmt.Fprintln(os.Stderr, mptcpUsage)
}

func main() {
	os.Exit(dispatch(os.Args[1:]))
}

// dispatch runs the command in args. Options before the command are read
// as ip(8) reads its own (mptcp-autopm -n NS -j endpoint show) and handed
// to the command at the head of its arguments.
func dispatch(args []string) int {
	i, opts, err := splitGlobal(args)
	if err != nil {
		return report(err)
	}

	if i == len(args) || opts.help || isHelp(args[i]) {
		usage()
		if i == len(args) && !opts.help {
			return 255
		}

		return 0
	}

	cmd, ok := lookupCommand(args[i])
	if !ok {
		fmt.Fprintf(os.Stderr, "mptcp-autopm: unknown command %q\n", args[i])
		usage()

		return 255
	}

	pre := args[:i:i]
	if len(pre) > 0 && pre[len(pre)-1] == "--" {
		pre = pre[:len(pre)-1]
	}

	return report(cmd.run(append(pre, args[i+1:]...)))
}

// isHelp reports whether word asks for the usage, abbreviated as ip
// allows ("h"), unless a command has that very name.
func isHelp(word string) bool {
	_, exact := commands[word]

	return !exact && matches(word, "help")
}

// report prints err as one "Error: ..." line and returns the exit code.
// flag.ErrHelp means the usage asked for is printed: exit 0, no error.
func report(err error) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}

	fmt.Fprintln(os.Stderr, "Error: "+err.Error())
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}

	return 1
}
