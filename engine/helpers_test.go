package engine

import (
	"net/netip"
	"slices"

	"github.com/google/go-cmp/cmp"

	"github.com/mptcp-autopm/mptcp-autopm/pm"
	"github.com/mptcp-autopm/mptcp-autopm/rules"
	"github.com/mptcp-autopm/mptcp-autopm/watchers"
)

// addrCmp compares netip.Addr values, which go-cmp cannot look into.
var addrCmp = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

// snap builds snapshots for tests in a few words.
type snap struct{ watchers.Snapshot }

func (s *snap) link(index int, name, typ string) *snap {
	s.Links = append(s.Links, watchers.Link{
		Index: index, Name: name, Type: typ, Up: true, Carrier: true,
		OperState: "up", MTU: 1500,
	})

	return s
}

// addr adds an address with flags on link index, permanent.
func (s *snap) addr(index int, cidr string, flags uint32) *snap {
	p := netip.MustParsePrefix(cidr)
	var scope uint8
	if p.Addr().IsLinkLocalUnicast() {
		scope = 253
	}
	s.Addrs = append(s.Addrs, watchers.Addr{
		Index: index, Prefix: p, Scope: scope, Flags: flags,
		PreferredLft: watchers.Forever, ValidLft: watchers.Forever,
	})

	return s
}

// route adds a default route through index via gw.
func (s *snap) route(index int, gw string, metric int) *snap {
	g := netip.MustParseAddr(gw)
	r := watchers.Route{
		Family: 4, LinkIndex: index, Gateway: g, Metric: metric,
		Table: 254, Dst: netip.MustParsePrefix("0.0.0.0/0"),
	}
	if g.Is6() {
		r.Family, r.Dst = 6, netip.MustParsePrefix("::/0")
	}
	s.Routes = append(s.Routes, r)

	return s
}

// carrierOff takes the carrier of link index away and marks its routes
// linkdown, as the kernel does.
func (s *snap) carrierOff(index int) *snap {
	s.Links = slices.Clone(s.Links)
	for i := range s.Links {
		if s.Links[i].Index == index {
			s.Links[i].Carrier = false
			s.Links[i].OperState = "down"
		}
	}
	s.Routes = slices.Clone(s.Routes)
	for i := range s.Routes {
		if s.Routes[i].LinkIndex == index {
			s.Routes[i].Linkdown = true
		}
	}

	return s
}

func (s *snap) get() watchers.Snapshot { return s.Snapshot }

// policy is the default policy of SCENARIOS.md written in Go, so that the
// engine's tests do not depend on the rules loader: wifi is subflow backup
// while another usable uplink of the family is neither wifi nor wwan, wwan
// is subflow backup, everything else subflow. skip names links to skip.
type policy struct {
	settings rules.Settings
	skip     []string
	flags    map[string]pm.Flags // by link type, replaces the default
	// backupAfter, when positive, makes an address backup once that many
	// of its subflows failed, so that decisions read MPTCP facts.
	backupAfter int
}

func (p policy) Settings() rules.Settings { return p.settings }

func (p policy) UsesMPTCP() bool { return p.backupAfter > 0 }

func (p policy) Decide(env *rules.Env) (rules.Decision, error) {
	if slices.Contains(p.skip, env.Link.Name) {
		return rules.Decision{Rule: "no-" + env.Link.Name, Skip: true}, nil
	}
	if p.backupAfter > 0 && env.Addr.SubflowsFailed >= p.backupAfter {
		return rules.Decision{Rule: "failing",
			Flags: pm.FlagSubflow | pm.FlagBackup}, nil
	}
	if f, ok := p.flags[env.Link.Type]; ok {
		return rules.Decision{Rule: "user-" + env.Link.Type, Flags: f}, nil
	}

	switch env.Link.Type {
	case "wifi":
		for _, u := range env.Host.Uplinks {
			if u.Name != env.Link.Name && u.Family == env.Addr.Family &&
				u.Type != "wifi" && u.Type != "wwan" {
				return rules.Decision{Rule: "wifi-backup",
					Flags: pm.FlagSubflow | pm.FlagBackup}, nil
			}
		}

		return rules.Decision{Rule: "wifi", Flags: pm.FlagSubflow}, nil
	case "wwan":
		return rules.Decision{Rule: "cellular",
			Flags: pm.FlagSubflow | pm.FlagBackup}, nil
	}

	return rules.Decision{Rule: "other", Flags: pm.FlagSubflow}, nil
}

// ep parses "ADDR FLAGS... [dev N]" loosely for expected endpoints.
func ep(addr string, flags pm.Flags, ifindex int32) pm.Endpoint {
	return pm.Endpoint{Addr: netip.MustParseAddr(addr), Flags: flags,
		Ifindex: ifindex}
}

type (
	watchersKey   = watchers.SubflowKey
	watchersCount = watchers.SubflowCount
)
