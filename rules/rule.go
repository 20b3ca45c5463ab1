package rules

import (
	"fmt"

	"github.com/expr-lang/expr/vm"

	"github.com/mptcp-autopm/mptcp-autopm/pm"
)

// rules compiles the file's [[rule]] tables, reporting every mistake.
func (p *parser) rules(frs []fileRule) []Rule {
	var out []Rule
	first := map[string]int{}
	for i, fr := range frs {
		if j, dup := first[fr.Name]; dup && fr.Name != "" {
			p.ruleFail(i, fr.Name, "name",
				"duplicate name, first used at line %d",
				p.ix.ruleLine(j, ""))
		} else {
			first[fr.Name] = i
		}
		if p.taken[fr.Name] {
			p.ruleFail(i, fr.Name, "name", "an embedded rule has this "+
				"name; choose another or set embedded_rules = false")
		}

		if r, ok := p.rule(i, fr); ok {
			out = append(out, r)
		}
	}

	return out
}

// rule compiles one rule; ok is false when it has a mistake.
func (p *parser) rule(i int, fr fileRule) (r Rule, ok bool) {
	n := len(p.errs)
	r = Rule{Name: fr.Name, File: p.name, Line: p.ix.ruleLine(i, "")}
	if fr.Name == "" {
		p.ruleFail(i, "", "name", "missing")
	}

	r.When, r.prog = p.when(i, fr)
	r.mptcp = r.prog != nil && readsMPTCP(r.prog)
	if fr.Skip != nil && *fr.Skip {
		r.Skip = true
		p.skipOnly(i, fr)
	} else {
		r.Flags, r.Port = p.flags(i, fr)
	}

	return r, len(p.errs) == n
}

// when compiles the rule's `when`, once per load, and returns its source
// and program.
func (p *parser) when(i int, fr fileRule) (string, *vm.Program) {
	if fr.When == nil {
		p.ruleFail(i, fr.Name, "when", "missing")

		return "", nil
	}

	prog, errs := compileWhen(*fr.When)
	for _, err := range errs {
		p.ruleFail(i, fr.Name, "when", "%s", whenMessage(err))
	}

	return *fr.When, prog
}

// skipOnly checks that a skip rule asks for no endpoint.
func (p *parser) skipOnly(i int, fr fileRule) {
	if fr.Flags != nil {
		p.ruleFail(i, fr.Name, "flags", "not allowed with skip = true")
	}
	if fr.Port != nil {
		p.ruleFail(i, fr.Name, "port", "not allowed with skip = true")
	}
}

// flags checks the endpoint a rule asks for against what the kernel
// accepts on add (net/mptcp/pm_netlink.c, mptcp_pm_parse_entry).
func (p *parser) flags(i int, fr fileRule) (pm.Flags, uint16) {
	if fr.Flags == nil {
		p.ruleFail(i, fr.Name, "flags",
			"missing: give flags = [...] or skip = true")

		return 0, 0
	}

	var f pm.Flags
	for _, name := range *fr.Flags {
		bit, err := pm.ParseFlag(name)
		if err != nil {
			p.ruleFail(i, fr.Name, "flags", "%v", err)
		}
		f |= bit
	}

	if f.Has(pm.FlagImplicit) {
		p.ruleFail(i, fr.Name, "flags",
			"implicit is set by the kernel, not by rules")
	}
	if f.Has(pm.FlagSignal | pm.FlagFullmesh) {
		p.ruleFail(i, fr.Name, "flags",
			"flags mustn't have both signal and fullmesh")
	}

	return f, p.port(i, fr, f)
}

// port checks the port of a signal endpoint.
func (p *parser) port(i int, fr fileRule, f pm.Flags) uint16 {
	if fr.Port == nil {
		return 0
	}

	port := *fr.Port
	if port < 1 || port > 65535 {
		p.ruleFail(i, fr.Name, "port", "want 1..65535, not %d", port)

		return 0
	}
	if !f.Has(pm.FlagSignal) || f.Has(pm.FlagSubflow) {
		p.ruleFail(i, fr.Name, "port",
			"flags must have signal and not subflow when using port")
	}

	return uint16(port)
}

// ruleFail records a mistake in rule i at key.
func (p *parser) ruleFail(i int, name, key, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.name,
		Line: p.ix.ruleLine(i, key), Rule: name, Key: key,
		Msg: fmt.Sprintf(format, args...)})
}
