package main

import (
	"fmt"
	"strings"
)

// jsonWriter writes JSON byte for byte as iproute2's lib/json_writer.c
// does, so that `-j` and `-j -p` output can be compared with ip's as text:
// members in the order written, pretty printing with four spaces per level,
// "[ " and " ]" around a non-empty pretty array.
type jsonWriter struct {
	b      strings.Builder
	depth  int
	pretty bool
	sep    bool // a value was written at this level: the next needs a comma
}

func (w *jsonWriter) eol() {
	if !w.pretty {
		return
	}
	w.b.WriteByte('\n')
	w.b.WriteString(strings.Repeat("    ", w.depth))
}

func (w *jsonWriter) eor() {
	if w.sep {
		w.b.WriteByte(',')
	}
	w.sep = true
}

func (w *jsonWriter) begin(c byte) {
	w.eor()
	w.b.WriteByte(c)
	w.depth++
	w.sep = false
}

func (w *jsonWriter) end(c byte) {
	w.depth--
	if w.sep {
		w.eol()
	}
	w.b.WriteByte(c)
	w.sep = true
}

func (w *jsonWriter) startObject() { w.begin('{') }
func (w *jsonWriter) endObject()   { w.end('}') }

func (w *jsonWriter) startArray() {
	w.begin('[')
	if w.pretty {
		w.b.WriteByte(' ')
	}
}

func (w *jsonWriter) endArray() {
	if w.pretty && w.sep {
		w.b.WriteByte(' ')
	}
	w.sep = false
	w.end(']')
}

// name starts a member of the current object.
func (w *jsonWriter) name(n string) {
	w.eor()
	w.eol()
	w.sep = false
	w.quote(n)
	w.b.WriteByte(':')
	if w.pretty {
		w.b.WriteByte(' ')
	}
}

func (w *jsonWriter) str(key, v string) {
	w.name(key)
	w.eor()
	w.quote(v)
}

func (w *jsonWriter) uint(key string, v uint64) {
	w.name(key)
	w.eor()
	fmt.Fprintf(&w.b, "%d", v)
}

func (w *jsonWriter) int(key string, v int64) {
	w.name(key)
	w.eor()
	fmt.Fprintf(&w.b, "%d", v)
}

func (w *jsonWriter) bool(key string, v bool) {
	w.name(key)
	w.eor()
	fmt.Fprintf(&w.b, "%t", v)
}

// quote writes s as a JSON string with json_writer's escapes.
func (w *jsonWriter) quote(s string) {
	w.b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\t':
			w.b.WriteString(`\t`)
		case '\n':
			w.b.WriteString(`\n`)
		case '\r':
			w.b.WriteString(`\r`)
		case '\f':
			w.b.WriteString(`\f`)
		case '\b':
			w.b.WriteString(`\b`)
		case '\\':
			w.b.WriteString(`\\`)
		case '"':
			w.b.WriteString(`\"`)
		default:
			if c < 0x20 {
				fmt.Fprintf(&w.b, `\u%04x`, c)
				continue
			}
			w.b.WriteByte(c)
		}
	}
	w.b.WriteByte('"')
}

// String returns what was written, ended by a newline as ip ends it.
func (w *jsonWriter) String() string { return w.b.String() + "\n" }
