package main

import (
	"strings"
)

// options are the global options of ip(8) that the ip-mptcp sub-commands
// honour. They may stand before the command (`mptcp-autopm -n X -j
// endpoint show`), as with ip, or anywhere among its arguments.
type options struct {
	netns     string // named network namespace (/run/netns/NAME); "" is ours
	json      bool   // -j: JSON output
	pretty    bool   // -p: indented JSON
	timestamp bool   // -t: a "Timestamp:" line before each monitor event
	tshort    bool   // -ts: a short timestamp at the start of each event
	help      bool   // -h: print the usage
}

// matches reports whether word is a non-empty prefix of full, the way
// iproute2 accepts abbreviations (lib/utils.c, matches()).
func matches(word, full string) bool {
	return word != "" && strings.HasPrefix(full, word)
}

// isOption reports whether arg looks like an option rather than a word of
// the grammar. No address, keyword or number of ip-mptcp(8) starts with a
// dash, and a lone "-" is not an option either.
func isOption(arg string) bool {
	return len(arg) > 1 && arg[0] == '-'
}

// takesValue reports whether the option arg consumes the next argument.
func takesValue(arg string) bool {
	return matches(strings.TrimPrefix(arg[1:], "-"), "netns")
}

// apply records the option arg in o. value is the argument after it, used
// only when takesValue(arg). Like ip, a long option may be written with
// one dash or two and abbreviated (-j, -json, --json), and the first
// option in ip's own order wins an ambiguous prefix ("-t" is -timestamp).
func (o *options) apply(arg, value string) error {
	name := strings.TrimPrefix(arg[1:], "-")
	switch {
	case matches(name, "timestamp"):
		o.timestamp = true
	case matches(name, "tshort"):
		o.timestamp, o.tshort = true, true
	case matches(name, "json"):
		o.json = true
	case matches(name, "pretty"):
		o.pretty = true
	case matches(name, "help"):
		o.help = true
	case matches(name, "netns"):
		o.netns = value
	default:
		return usageErrorf("Option %q is unknown, try %q.", arg, "mptcp-autopm help")
	}

	return nil
}

// scanner walks the arguments of a sub-command. Words are read with word,
// which applies any options it meets on the way; values of keywords
// ("id 3", "dev eth0") are read with value, which takes the next argument
// as it is, as ip's NEXT_ARG does.
type scanner struct {
	args []string
	opts *options
}

// newScanner returns a scanner over args that records options in opts.
func newScanner(args []string, opts *options) *scanner {
	return &scanner{args: args, opts: opts}
}

// word returns the next argument that is not an option, applying the
// options before it; ok is false at the end of the arguments.
func (s *scanner) word() (w string, ok bool, err error) {
	for len(s.args) > 0 {
		arg := s.args[0]
		s.args = s.args[1:]
		if !isOption(arg) {
			return arg, true, nil
		}

		if err := s.option(arg); err != nil {
			return "", false, err
		}
	}

	return "", false, nil
}

// option applies the option arg, consuming its value if it takes one.
func (s *scanner) option(arg string) error {
	value := ""
	if takesValue(arg) {
		if len(s.args) == 0 {
			return errIncomplete
		}
		value = s.args[0]
		s.args = s.args[1:]
	}

	return s.opts.apply(arg, value)
}

// value returns the argument after a keyword, or errIncomplete.
func (s *scanner) value() (string, error) {
	if len(s.args) == 0 {
		return "", errIncomplete
	}
	v := s.args[0]
	s.args = s.args[1:]

	return v, nil
}

// rest applies the options among the remaining arguments and returns the
// other words, for sub-commands that take no arguments of their own.
func (s *scanner) rest() ([]string, error) {
	var words []string
	for {
		w, ok, err := s.word()
		if err != nil || !ok {
			return words, err
		}
		words = append(words, w)
	}
}

// splitGlobal reads the options before the command name, as ip(8) does
// before its object. It returns the command's index in args, or len(args)
// when there is none; the options stay in args for the command to apply.
func splitGlobal(args []string) (int, options, error) {
	var o options
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			return i + 1, o, nil
		}
		if !isOption(arg) {
			return i, o, nil
		}

		value := ""
		if takesValue(arg) {
			if i+1 >= len(args) {
				return 0, o, errIncomplete
			}
			i++
			value = args[i]
		}
		if err := o.apply(arg, value); err != nil {
			return 0, o, err
		}
	}

	return len(args), o, nil
}
