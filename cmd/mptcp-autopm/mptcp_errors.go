package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/mptcp-autopm/mptcp-autopm/pm"
	"golang.org/x/sys/unix"
)

// Exit codes of ip(8), which scripts tell apart: 255 for a command line it
// refuses, 2 when the kernel refuses, 1 for an address it cannot parse.
const (
	exitUsage   = 255
	exitKernel  = 2
	exitAddress = 1
)

// errIncomplete is ip's NEXT_ARG failure: a keyword without its value.
var errIncomplete = &exitError{
	code: exitUsage,
	err:  errors.New(`Command line is not complete. Try option "help"`),
}

// exitWith returns err with an exit code.
func exitWith(code int, err error) error {
	return &exitError{code: code, err: err}
}

// kernelErrorf returns an error that exits 2, ended by a period as ip
// ends the kernel's messages.
func kernelErrorf(text string) error {
	return exitWith(exitKernel, errors.New(text+"."))
}

// usageErrorf returns an error that exits 255.
func usageErrorf(format string, a ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, a...)}
}

// invarg is iproute2's invarg(): an argument with a wrong value.
func invarg(msg, arg string) error {
	return usageErrorf("argument %q is wrong: %s", arg, msg)
}

// missarg is iproute2's missarg(): a required argument left out.
func missarg(key string) error {
	return usageErrorf("argument %q is required", key)
}

// badAddress is iproute2's get_addr() failure, which exits 1.
func badAddress(arg string) error {
	return &exitError{
		code: exitAddress,
		err:  fmt.Errorf("any valid address is expected rather than %q.", arg),
	}
}

// unknownCommand is ip-mptcp's answer to a sub-command it does not know.
func unknownCommand(word string) error {
	return usageErrorf("Command %q is unknown, try %q.", word, "mptcp-autopm help")
}

// refusal turns an error of the pm client into what ip prints when the
// kernel refuses: its extended-ack text and a period, exit 2 ("Error: too
// many addresses or duplicate one: -17."); without a text, the errno.
//
// The checks the client makes before sending (a port endpoint with
// subflow, a limit above 8, change without id or address) are the
// kernel's own rules, which ip 6.1 leaves to the kernel; they exit 2 too,
// with the client's reason.
func refusal(err error) error {
	var pe *pm.Error
	if errors.As(err, &pe) {
		if pe.Local {
			return kernelErrorf(pe.Err.Error())
		}
		if pe.Message != "" {
			return kernelErrorf(pe.Message)
		}
	}

	var errno unix.Errno
	if errors.As(err, &errno) {
		return kernelErrorf(errnoText(errno))
	}

	return exitWith(exitKernel, err)
}

// errnoText capitalises the errno's text the way strerror(3) does ("No
// such file or directory"), as ip prints it when the kernel gives no text.
func errnoText(errno unix.Errno) string {
	s := errno.Error()
	if s == "" {
		return s
	}

	return strings.ToUpper(s[:1]) + s[1:]
}
