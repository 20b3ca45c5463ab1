package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/mptcp-autopm/mptcp-autopm/rules"
)

func init() {
	register("check", "check a rules file and print every mistake in it",
		func(args []string) error {
			return runCheck(os.Stdout, os.Stderr, args)
		})
	register("rules", "print the effective rules, then the settings",
		func(args []string) error {
			return runRules(os.Stdout, os.Stderr, args)
		})
}

// loadRules parses `[--rules FILE]` and loads that file, or the default
// one: rules.DefaultPath when it exists, else the embedded rules alone.
func loadRules(cmd string, stderr io.Writer, args []string) (*rules.Set, error) {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("rules", "", "rules `FILE`; default "+
		rules.DefaultPath+" when it exists, else the embedded rules")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: mptcp-autopm %s [--rules FILE]\n", cmd)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}

	if *path == "" {
		return rules.LoadDefault()
	}

	return rules.Load(*path)
}

// runCheck loads the rules and says whether they are valid. It prints
// every mistake to stderr, one per line with expr's excerpt under those in
// a `when`, and exits 1 when there is any.
func runCheck(stdout, stderr io.Writer, args []string) error {
	set, err := loadRules("check", stderr, args)
	var ee *exitError
	if errors.As(err, &ee) || errors.Is(err, flag.ErrHelp) {
		return err
	}

	var re *rules.Error
	if err != nil && !errors.As(err, &re) {
		return &exitError{code: 1, err: err}
	}

	if err != nil {
		errs := split(err)
		for _, e := range errs {
			fmt.Fprintln(stderr, e)
		}

		return &exitError{code: 1, err: fmt.Errorf("checking rules: %s in %s",
			plural(len(errs), "mistake"), re.File)}
	}

	if set.File() == rules.EmbeddedName {
		fmt.Fprintf(stdout, "no %s: the embedded rules apply: ok, %s\n",
			rules.DefaultPath, plural(len(set.Rules()), "rule"))

		return nil
	}

	own := 0
	for _, r := range set.Rules() {
		if r.File == set.File() {
			own++
		}
	}
	fmt.Fprintf(stdout, "%s: ok, %s of its own, %d in all\n",
		set.File(), plural(own, "rule"), len(set.Rules()))

	return nil
}

// plural returns "1 rule", "2 rules".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}

	return fmt.Sprintf("%d %ss", n, noun)
}

// split returns the errors that errors.Join joined, or err alone.
func split(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}

	return []error{err}
}

// runRules prints the effective rules and settings as a rules file.
func runRules(stdout, stderr io.Writer, args []string) error {
	set, err := loadRules("rules", stderr, args)
	if err != nil {
		return err
	}

	_, err = io.WriteString(stdout, set.String())

	return err
}
