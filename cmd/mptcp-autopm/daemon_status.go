package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mptcp-autopm/mptcp-autopm/engine"
)

func init() {
	register("status", "show what the running daemon sees and did",
		func(args []string) error { return runStatus(os.Stdout, os.Stderr, args) })
	register("reload", "make the running daemon reload its rules",
		func(args []string) error { return runReload(os.Stdout, os.Stderr, args) })
}

// clientFlags parses the options of a command that talks to the daemon.
func clientFlags(cmd string, stderr io.Writer, args []string,
	withJSON bool) (socket string, asJSON bool, err error) {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&socket, "socket", defaultSocket, "daemon's control socket `PATH`")
	usage := "usage: mptcp-autopm " + cmd + " [--socket PATH]"
	if withJSON {
		fs.BoolVar(&asJSON, "json", false, "print the status as JSON")
		usage += " [--json]"
	}
	fs.Usage = func() {
		fmt.Fprintln(stderr, usage)
		fs.PrintDefaults()
	}

	if err := parseFlags(fs, args); err != nil {
		return "", false, err
	}

	return socket, asJSON, nil
}

func runStatus(stdout, stderr io.Writer, args []string) error {
	socket, asJSON, err := clientFlags("status", stderr, args, true)
	if err != nil {
		return err
	}

	st, raw, err := newControlClient(socket).status()
	if err != nil {
		return err
	}

	if asJSON {
		_, err = stdout.Write(raw)
		return err
	}
	printReport(stdout, st, false)

	return nil
}

func runReload(stdout, stderr io.Writer, args []string) error {
	socket, _, err := clientFlags("reload", stderr, args, false)
	if err != nil {
		return err
	}

	r, err := newControlClient(socket).reload()
	if err != nil {
		return err
	}

	if r.Error != "" {
		return errors.New(r.Error)
	}
	fmt.Fprintf(stdout, "reloaded rules from %s\n", r.Rules)

	return nil
}

// printReport writes st for people. A plan lists the operations a
// reconcile would make; a status lists the last ones made.
func printReport(w io.Writer, st engine.Status, plan bool) {
	fmt.Fprintf(w, "rules: %s\n", st.Rules)
	if st.RulesError != "" {
		fmt.Fprintf(w, "rules error (previous rules still in use):\n  %s\n",
			strings.ReplaceAll(st.RulesError, "\n", "\n  "))
	}
	if st.DryRun {
		fmt.Fprintln(w, "dry run: operations are logged, not applied")
	}

	printOps(w, st, plan)
	printLinks(w, st)
	printTable(w, st)
	printTrouble(w, st)
}

func printOps(w io.Writer, st engine.Status, plan bool) {
	if plan {
		if len(st.LastOps) == 0 {
			fmt.Fprintln(w, "\nplan: nothing to do")
			return
		}
		fmt.Fprintln(w, "\nplan:")
	} else {
		fmt.Fprintf(w, "last reconcile: %s (%s)\n",
			when(st.LastReconcile), st.Trigger)
		if len(st.LastOps) == 0 {
			return
		}
		fmt.Fprintf(w, "last change: %s\n", when(st.LastChange))
	}

	for _, op := range st.LastOps {
		fmt.Fprintf(w, "  %s\n", op)
	}
}

func when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}

	return t.Format(time.RFC3339)
}

func printLinks(w io.Writer, st engine.Status) {
	fmt.Fprintln(w, "\nlinks:")
	for _, l := range st.Links {
		state := "down"
		if l.Up {
			state = "up"
		}
		if l.Up && !l.Carrier {
			state = "no carrier"
		}
		fmt.Fprintf(w, "  %s (if%d, %s, %s)\n", l.Name, l.Index, l.Type, state)
		for _, a := range l.Addrs {
			fmt.Fprintf(w, "    %s/%d: %s\n", a.Addr, a.PrefixLen, addrLine(a))
		}
	}
}

func addrLine(a engine.AddrStatus) string {
	var s string
	switch {
	case a.Endpoint != nil && a.Wanted != nil:
		s = fmt.Sprintf("endpoint id %d %s (rule %s)", a.Endpoint.ID,
			a.Endpoint.Flags, a.Rule)
	case a.Wanted != nil:
		s = fmt.Sprintf("wants %s (rule %s), not in the table", *a.Wanted, a.Rule)
	case a.Endpoint != nil:
		s = fmt.Sprintf("no endpoint wanted (%s), but id %d %s is kept",
			a.Why, a.Endpoint.ID, a.Endpoint.Flags)
	default:
		s = "no endpoint: " + a.Why
	}

	if sf := a.Subflows; sf != (engine.SubflowStatus{}) {
		s += fmt.Sprintf("; subflows %d established, %d closed, %d failed",
			sf.Established, sf.Closed, sf.Failed)
	}

	return s
}

func printTable(w io.Writer, st engine.Status) {
	fmt.Fprintln(w, "\nendpoints:")
	for _, e := range st.Endpoints {
		owner := "foreign"
		if e.Ours {
			owner = "ours"
		}
		fmt.Fprintf(w, "  %s (%s)\n", e.Line, owner)
	}
	fmt.Fprintf(w, "limits: subflows %d add_addr_accepted %d (%s)\n",
		st.Limits.Subflows, st.Limits.AddAddrAccepted, st.Limits.How)
	if st.Connections > 0 {
		fmt.Fprintf(w, "mptcp connections: %d\n", st.Connections)
	}
}

func printTrouble(w io.Writer, st engine.Status) {
	if len(st.LeftOut) > 0 {
		fmt.Fprintln(w, "\nleft out:")
		for _, l := range st.LeftOut {
			fmt.Fprintf(w, "  %s %s dev %s: %s\n", l.Addr, l.Flags, l.Dev, l.Reason)
		}
	}
	if len(st.Rejoins) > 0 {
		fmt.Fprintln(w, "\nre-adds pending:")
		for _, r := range st.Rejoins {
			fmt.Fprintf(w, "  %s: %s (%d re-adds so far, next %s)\n",
				r.Endpoint, r.Reason, r.Attempts, when(r.Due))
		}
	}
	if len(st.Errors) > 0 {
		fmt.Fprintln(w, "\nerrors:")
		for _, e := range st.Errors {
			fmt.Fprintf(w, "  %s: %s (%d attempts, next %s)\n",
				e.Op, e.Error, e.Attempts, when(e.NextRetry))
		}
	}
}
