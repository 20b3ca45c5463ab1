package rules

import (
	"path"
	"slices"
	"time"
)

// Types are the link types that [[settings.type]] may assign, as the
// watchers detect them.
var Types = []string{"wifi", "wwan", "ethernet", "loopback", "bridge",
	"bond", "vlan", "veth", "tunnel", "ppp", "other"}

// settings checks and converts [limits] and [settings].
func (p *parser) settings(f document) Settings {
	fs := f.Settings
	s := Settings{
		ResyncInterval: p.resync(fs.ResyncInterval),
		Types:          p.types(fs.Type),
		Hygiene:        Hygiene(fs.Hygiene),
		NoEmbedded:     fs.EmbeddedRules != nil && !*fs.EmbeddedRules,
	}
	s.ManageAll = p.manage(fs.Manage)
	s.Limits.Subflows = p.limit("limits.subflows", f.Limits.Subflows)
	s.Limits.AddAddrAccepted = p.limit("limits.add_addr_accepted",
		f.Limits.AddAddrAccepted)

	return s
}

func (p *parser) resync(v *string) time.Duration {
	if v == nil {
		return 0
	}

	d, err := time.ParseDuration(*v)
	if err != nil || d <= 0 {
		p.fail("settings.resync_interval",
			"want a positive duration such as \"30s\", not %q", *v)

		return 0
	}

	return d
}

func (p *parser) manage(v *string) bool {
	if v == nil || *v == "ours" {
		return false
	}
	if *v == "all" {
		return true
	}

	p.fail("settings.manage", "want \"ours\" or \"all\", not %q", *v)

	return false
}

func (p *parser) limit(key string, v limitValue) Limit {
	l, err := v.limit()
	if err != nil {
		p.fail(key, "%v", err)
	}

	return l
}

// types checks the type overrides: a valid glob and a known type each.
func (p *parser) types(fts []fileType) []TypeOverride {
	var out []TypeOverride
	for j, ft := range fts {
		if _, err := path.Match(ft.Match, ""); err != nil || ft.Match == "" {
			p.failAt(j, "settings.type.match", "bad glob %q", ft.Match)
		}
		if !slices.Contains(Types, ft.Type) {
			p.failAt(j, "settings.type.type",
				"unknown type %q, want one of %v", ft.Type, Types)
		}
		out = append(out, TypeOverride{Glob: ft.Match, Type: ft.Type})
	}

	return out
}
