package rules

import (
	"fmt"
	"strings"
)

// String returns the effective rules and settings as a rules file: the
// settings, then every rule in the order Decide tries them, each under a
// comment naming its origin. The embedded rules that follow the file's are
// written out too, so the text says `embedded_rules = false`; parsing it
// gives the same rules and settings.
func (s *Set) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Effective rules of %s; the first that matches wins.\n",
		s.file)
	b.WriteString("# Written as a rules file: loading it gives the same " +
		"rules and settings.\n\n")
	s.writeSettings(&b)
	s.writeLimits(&b)
	for _, r := range s.rules {
		writeRule(&b, r)
	}

	return b.String()
}

func (s *Set) writeSettings(b *strings.Builder) {
	st := s.settings
	b.WriteString("[settings]\n")
	if st.ResyncInterval == 0 {
		fmt.Fprintf(b, "# resync_interval = %q (the default)\n",
			DefaultResync.String())
	} else {
		fmt.Fprintf(b, "resync_interval = %q\n", st.ResyncInterval.String())
	}

	manage := "ours"
	if st.ManageAll {
		manage = "all"
	}
	fmt.Fprintf(b, "manage = %q\n", manage)
	if !st.NoEmbedded && s.file != EmbeddedName {
		fmt.Fprintf(b, "# %s uses the embedded rules: they are listed "+
			"below, after its own.\n", s.file)
	}
	b.WriteString("embedded_rules = false\n\n")

	h := st.Hygiene
	b.WriteString("[settings.hygiene]\n")
	fmt.Fprintf(b, "allow_loopback = %t\n", h.AllowLoopback)
	fmt.Fprintf(b, "allow_link_local = %t\n", h.AllowLinkLocal)
	fmt.Fprintf(b, "allow_ula = %t\n", h.AllowULA)
	fmt.Fprintf(b, "allow_temporary = %t\n", h.AllowTemporary)
	fmt.Fprintf(b, "allow_deprecated = %t\n", h.AllowDeprecated)
	fmt.Fprintf(b, "allow_no_default_route = %t\n\n", h.AllowNoDefaultRoute)

	for _, t := range st.Types {
		fmt.Fprintf(b, "[[settings.type]]\nmatch = %s\ntype = %s\n\n",
			tomlString(t.Glob), tomlString(t.Type))
	}
}

func (s *Set) writeLimits(b *strings.Builder) {
	b.WriteString("[limits]\n")
	fmt.Fprintf(b, "subflows = %s\n", limitString(s.settings.Limits.Subflows))
	fmt.Fprintf(b, "add_addr_accepted = %s\n\n",
		limitString(s.settings.Limits.AddAddrAccepted))
}

func limitString(l Limit) string {
	switch l.Mode {
	case LimitKeep:
		return `"keep"`
	case LimitFixed:
		return fmt.Sprint(l.Value)
	}

	return `"auto"`
}

func writeRule(b *strings.Builder, r Rule) {
	fmt.Fprintf(b, "# %s\n[[rule]]\nname = %s\nwhen = %s\n",
		r.Origin(), tomlString(r.Name), tomlString(r.When))
	if r.Skip {
		b.WriteString("skip = true\n\n")

		return
	}

	names, _ := r.Flags.Names()
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = tomlString(n)
	}
	fmt.Fprintf(b, "flags = [%s]\n", strings.Join(quoted, ", "))
	if r.Port != 0 {
		fmt.Fprintf(b, "port = %d\n", r.Port)
	}
	b.WriteString("\n")
}

// tomlString quotes s for TOML: a basic string ("...") when nothing in it
// needs escaping, a literal string ('...') for an expression with quotes
// or backslashes, a multi-line literal string for an expression written
// over several lines, and an escaped basic string otherwise.
func tomlString(s string) string {
	ctl := strings.ContainsFunc(s, func(r rune) bool {
		return (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f
	})
	multi := strings.Contains(s, "\n")
	switch {
	case ctl:
	case !multi && !strings.ContainsAny(s, "\"\\\t"):
		return `"` + s + `"`
	case !multi && !strings.Contains(s, "'"):
		return "'" + s + "'"
	case multi && !strings.Contains(s, "'''") && !strings.HasSuffix(s, "'"):
		return "'''\n" + s + "'''"
	}

	return basicString(s)
}

// basicString quotes s as a TOML basic string.
func basicString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')

	return b.String()
}
