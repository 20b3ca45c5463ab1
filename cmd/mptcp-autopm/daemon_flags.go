package main

import (
	"errors"
	"flag"
	"fmt"
)

// parseFlags parses args into fs, which takes no positional arguments.
// Asking for help (-h, --help) is no mistake: the flag package has
// printed the usage, and the error is flag.ErrHelp, which report turns
// into exit 0 without an "Error:" line. Any other mistake exits 255, as
// ip(8) does on usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return err
	}

	if err != nil {
		return &exitError{code: 255, err: err}
	}

	if fs.NArg() > 0 {
		fs.Usage()
		return &exitError{code: 255,
			err: fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}

	return nil
}
