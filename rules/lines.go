package rules

import (
	"slices"
	"strings"
)

// lineIndex finds where keys sit in a rules file. BurntSushi/toml keeps key
// positions to itself and has a single entry for a key that every [[rule]]
// table repeats, so errors about one rule need their own index. It
// understands what rules files contain: table and array headers, keys
// (dotted or quoted), and multi-line strings; keys inside inline tables
// are found at the line of the table's key.
type lineIndex struct {
	keys []keyLine
}

// keyLine is one key or header, with the [[rule]] table it is in (-1 for
// none).
type keyLine struct {
	path []string
	rule int
	line int
}

func indexLines(data []byte) *lineIndex {
	var (
		ix      lineIndex
		section []string
		rule    = -1
		inML    string
		depth   int // of brackets of an array written over lines
	)
	for i, line := range strings.Split(string(data), "\n") {
		if depth > 0 {
			depth += brackets(line)

			continue
		}
		if inML != "" {
			if strings.Contains(line, inML) {
				inML = ""
			}

			continue
		}

		t := strings.TrimSpace(line)
		if t == "" || t[0] == '#' {
			continue
		}

		if path, array, ok := header(t); ok {
			section, rule = path, -1
			if array && slices.Equal(path, []string{"rule"}) {
				rule = ix.rules()
			}
			ix.add(section, rule, i+1)

			continue
		}

		if key, value, ok := strings.Cut(t, "="); ok {
			path := append(slices.Clone(section), splitKey(key)...)
			ix.add(path, rule, i+1)
			inML = opensMultiline(value)
			if inML == "" {
				depth = max(0, brackets(value))
			}
		}
	}

	return &ix
}

// brackets returns how many more brackets s opens than it closes, counting
// only those outside strings and comments.
func brackets(s string) int {
	n, quote := 0, rune(0)
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '"' || r == '\'':
			quote = r
		case r == '#':
			return n
		case r == '[':
			n++
		case r == ']':
			n--
		}
	}

	return n
}

// header parses a table header ("[a.b]") or an array of tables header
// ("[[rule]]"), trailing comment allowed.
func header(t string) (path []string, array, ok bool) {
	if t[0] != '[' {
		return nil, false, false
	}

	array = strings.HasPrefix(t, "[[")
	end := "]"
	if array {
		end = "]]"
	}
	name, _, _ := strings.Cut(t, end)

	return splitKey(strings.TrimLeft(name, "[ ")), array, true
}

func (ix *lineIndex) add(path []string, rule, line int) {
	ix.keys = append(ix.keys, keyLine{path: path, rule: rule, line: line})
}

// rules counts the [[rule]] headers seen so far.
func (ix *lineIndex) rules() int {
	n := 0
	for _, k := range ix.keys {
		if k.rule >= 0 && len(k.path) == 1 {
			n++
		}
	}

	return n
}

// ruleLine returns the line of rule i's key, or of its header when the key
// is "" or missing, or 0 when the rule was not found (an inline array).
func (ix *lineIndex) ruleLine(i int, key string) int {
	header := 0
	for _, k := range ix.keys {
		if k.rule != i {
			continue
		}
		if len(k.path) == 1 && header == 0 {
			header = k.line
		}
		if key != "" && len(k.path) == 2 && k.path[1] == key {
			return k.line
		}
	}

	return header
}

// find returns every place where path is written, with the rule it is in,
// or the place of its longest written prefix when path itself is not.
func (ix *lineIndex) find(path []string) []keyLine {
	for n := len(path); n > 0; n-- {
		var found []keyLine
		for _, k := range ix.keys {
			if slices.Equal(k.path, path[:n]) {
				found = append(found, k)
			}
		}
		if len(found) > 0 {
			return found
		}
	}

	return nil
}

// splitKey splits a dotted TOML key into its parts, unquoting quoted ones.
func splitKey(s string) []string {
	var (
		parts []string
		cur   strings.Builder
		quote rune
	)
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote = r
		case r == '.':
			parts = append(parts, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteRune(r)
		}
	}

	return append(parts, strings.TrimSpace(cur.String()))
}

// opensMultiline returns the delimiter of a multi-line string that value
// opens and leaves open on its line, or "".
func opensMultiline(value string) string {
	v := strings.TrimSpace(value)
	for _, d := range []string{`'''`, `"""`} {
		if strings.HasPrefix(v, d) && strings.Count(v, d) == 1 {
			return d
		}
	}

	return ""
}
