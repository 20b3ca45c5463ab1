package rules

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// DefaultPath is the rules file the daemon and the CLI read when none is
// named. When it does not exist the embedded rules apply alone.
const DefaultPath = "/etc/mptcp-autopm/rules.toml"

// Load reads and compiles the rules file at path. See Parse; a file that
// cannot be read gives an error that wraps the *fs.PathError.
func Load(path string) (*Set, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading rules: %w", err)
	}

	return Parse(path, data)
}

// LoadDefault loads DefaultPath when it exists, and returns the embedded
// rules alone when it does not.
func LoadDefault() (*Set, error) { return loadOrDefault(DefaultPath) }

func loadOrDefault(path string) (*Set, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return Default(), nil
	}

	return Load(path)
}

// Parse compiles the rules file data; name is the file's name in errors
// and origins. It reports every mistake at once, joined with errors.Join;
// each is an *Error naming the file, the rule and the position. No Set is
// returned when there is any.
func Parse(name string, data []byte) (*Set, error) {
	s, err := parse(name, data, Default())
	if err != nil {
		return nil, err
	}

	if !s.settings.NoEmbedded {
		s.rules = append(s.rules, Default().rules...)
	}

	return s, nil
}

// parse compiles a file without adding the embedded rules. When the file
// keeps the rules of fallback, its rules may not take their names: a
// decision names its rule, and must name one rule only.
func parse(name string, data []byte, fallback *Set) (*Set, error) {
	var f document
	md, err := toml.Decode(string(data), &f)
	if err != nil {
		return nil, decodeError(name, err)
	}

	p := parser{name: name, ix: indexLines(data)}
	for _, r := range f.Rule {
		p.names = append(p.names, r.Name)
	}
	if on := f.Settings.EmbeddedRules; on == nil || *on {
		p.take(fallback)
	}
	p.undecoded(md.Undecoded())
	s := &Set{file: name}
	s.rules = p.rules(f.Rule)
	s.settings = p.settings(f)
	if len(p.errs) > 0 {
		return nil, p.joined()
	}

	return s, nil
}

// joined returns the mistakes in the order of their lines, those with no
// known line last.
func (p *parser) joined() error {
	line := func(err error) int {
		if e, ok := err.(*Error); ok && e.Line > 0 {
			return e.Line
		}

		return math.MaxInt
	}
	slices.SortStableFunc(p.errs, func(a, b error) int {
		return cmp.Compare(line(a), line(b))
	})

	return errors.Join(p.errs...)
}

// take reserves the names of the rules of fallback, if any.
func (p *parser) take(fallback *Set) {
	if fallback == nil {
		return
	}

	p.taken = map[string]bool{}
	for _, r := range fallback.rules {
		p.taken[r.Name] = true
	}
}

// tomlLineError is how BurntSushi/toml words a decoding error that is not
// a syntax error, such as a string where a list belongs.
var tomlLineError = regexp.MustCompile(
	`(?s)^toml: line (\d+) \(last key "([^"]*)"\): (.*)$`)

// decodeError turns a TOML error into an *Error with its position.
func decodeError(name string, err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return &Error{File: name, Line: pe.Position.Line,
			Column: pe.Position.Col, Msg: pe.Message}
	}

	m := tomlLineError.FindStringSubmatch(err.Error())
	if m == nil {
		return &Error{File: name, Msg: err.Error()}
	}

	line, _ := strconv.Atoi(m[1])

	return &Error{File: name, Line: line, Key: m[2], Msg: m[3]}
}

// parser collects the mistakes of one file.
type parser struct {
	name string
	ix   *lineIndex
	// names are the names of the file's rules, in order.
	names []string
	// taken are the names of the embedded rules when the file keeps them.
	taken map[string]bool
	errs  []error
}

// undecoded reports keys that no field took.
func (p *parser) undecoded(keys []toml.Key) {
	seen := map[int]bool{}
	for _, k := range keys {
		for _, at := range p.ix.find(k) {
			if seen[at.line] {
				continue
			}
			seen[at.line] = true
			p.unknownKey(k, at)
		}
	}
}

func (p *parser) unknownKey(k toml.Key, at keyLine) {
	e := &Error{File: p.name, Line: at.line,
		Msg: "unknown key " + strings.Join(k, ".")}
	if at.rule >= 0 && len(k) > 1 {
		e.Msg = "unknown key " + strings.Join(k[1:], ".")
		e.Rule = p.ruleName(at.rule)
	}
	p.errs = append(p.errs, e)
}

// ruleName returns the name of the file's rule i.
func (p *parser) ruleName(i int) string {
	if i < len(p.names) {
		return p.names[i]
	}

	return ""
}

// keyLine returns the line where path is written for the j-th time (for
// keys of array tables), or the last such line, or 0.
func (p *parser) keyLine(j int, path string) int {
	at := p.ix.find(strings.Split(path, "."))
	if len(at) == 0 {
		return 0
	}

	return at[min(j, len(at)-1)].line
}

// fail records a mistake at the key path (dotted) outside the rules.
func (p *parser) fail(path, format string, args ...any) {
	p.failAt(0, path, format, args...)
}

// failAt records a mistake at the j-th table of an array of tables.
func (p *parser) failAt(j int, path, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.name,
		Line: p.keyLine(j, path), Key: path,
		Msg: fmt.Sprintf(format, args...)})
}
