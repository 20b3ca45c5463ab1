package rules

import (
	"errors"
	"fmt"

	"github.com/expr-lang/expr/vm"

	"github.com/mptcp-autopm/mptcp-autopm/pm"
)

// maxLimit bounds fixed limits, as the kernel does (MPTCP_PM_ADDR_MAX).
const maxLimit = pm.MaxLimit

// A Set is a loaded rules file: its rules, followed by the embedded ones
// unless the file turns them off, and its settings. A Set never changes
// after loading and is safe for concurrent use; a reload builds a new one.
type Set struct {
	file     string
	rules    []Rule
	settings Settings
}

// A Rule is one compiled [[rule]] table.
type Rule struct {
	Name string
	// When is the expression's source, as written.
	When string
	// Skip keeps MPTCP off the addresses the rule matches; otherwise
	// Flags and Port are the endpoint they get.
	Skip  bool
	Flags pm.Flags
	Port  uint16
	// File and Line are where the rule's [[rule]] header is; Line is 0
	// when unknown. File is EmbeddedName for the embedded rules.
	File string
	Line int

	prog  *vm.Program
	mptcp bool // When may read an MPTCP fact
}

// Origin returns "FILE:LINE", or FILE when the line is unknown.
func (r Rule) Origin() string {
	if r.Line == 0 {
		return r.File
	}

	return fmt.Sprintf("%s:%d", r.File, r.Line)
}

// Action returns what the rule does as a rules file writes it: "skip",
// the flag names ("subflow backup"), "signal port 8080", or "no flags".
func (r Rule) Action() string {
	switch {
	case r.Skip:
		return "skip"
	case r.Port != 0:
		return fmt.Sprintf("%s port %d", r.Flags, r.Port)
	case r.Flags == 0:
		return "no flags"
	}

	return r.Flags.String()
}

// decision is what the rule decides for an address it matches.
func (r Rule) decision() Decision {
	if r.Skip {
		return Decision{Rule: r.Name, Skip: true}
	}

	return Decision{Rule: r.Name, Flags: r.Flags, Port: r.Port}
}

// Decide returns the decision of the first rule whose `when` is true for
// env, or Decision{} (no endpoint) when none is.
//
// A rule whose evaluation fails (an index out of range, a CIDR computed at
// run time that does not parse) counts as not matching, so that one
// broken rule does not stop the others; Decide then returns the decision
// it reached together with the joined errors, each naming its rule.
func (s *Set) Decide(env *Env) (Decision, error) {
	var (
		errs []error
		m    vm.VM // reusable by each rule in turn
		e    any   = *env
	)
	for _, r := range s.rules {
		out, err := m.Run(r.prog, e)
		if err != nil {
			errs = append(errs, fmt.Errorf("evaluating rule %q (%s): %w",
				r.Name, r.Origin(), err))

			continue
		}

		if out.(bool) {
			return r.decision(), errors.Join(errs...)
		}
	}

	return Decision{}, errors.Join(errs...)
}

// UsesMPTCP reports whether a rule of the set reads addr.subflows or
// addr.subflows_failed, so that its decisions may change with MPTCP
// events alone. It is decided from the compiled expressions once, when
// the set is loaded.
func (s *Set) UsesMPTCP() bool {
	for _, r := range s.rules {
		if r.mptcp {
			return true
		}
	}

	return false
}

// Settings returns the settings of the rules file; the zero Settings for
// the embedded rules alone.
func (s *Set) Settings() Settings { return s.settings }

// Rules returns the rules in the order Decide tries them: the file's, then
// the embedded ones unless the file turned them off.
func (s *Set) Rules() []Rule {
	return append([]Rule(nil), s.rules...)
}

// File returns the name of the file the set was loaded from, or
// EmbeddedName for the embedded rules alone.
func (s *Set) File() string { return s.file }
