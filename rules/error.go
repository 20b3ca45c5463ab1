package rules

import (
	"fmt"
	"strings"
)

// An Error is one mistake in a rules file. Load and Parse join every Error
// of a file with errors.Join; errors.As finds the first.
type Error struct {
	File string
	// Line and Column are 1-based places in the file; 0 when unknown.
	Line   int
	Column int
	// Rule names the rule the mistake is in, "" outside any rule.
	Rule string
	// Key is the key at fault ("when", "flags", "limits.subflows"), ""
	// for the file as a whole.
	Key string
	// Msg says what is wrong. For `when` it starts with the place in the
	// expression ("line 1, column 12: ") and ends with expr's excerpt of
	// the line, a caret under the column.
	Msg string
}

// Error formats e as "FILE:LINE: rule "NAME": KEY: MSG", leaving out what
// is unknown.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Column > 0 {
		fmt.Fprintf(&b, ":%d", e.Column)
	}
	b.WriteString(": ")
	if e.Rule != "" {
		fmt.Fprintf(&b, "rule %q: ", e.Rule)
	}
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)

	return b.String()
}

// tomlValue formats a decoded TOML value for an error message.
func tomlValue(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}

	return fmt.Sprintf("%v", v)
}
