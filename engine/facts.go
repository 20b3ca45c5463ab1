package engine

import (
	"cmp"
	"fmt"
	"net/netip"
	"path"
	"slices"

	"github.com/mptcp-autopm/mptcp-autopm/rules"
	"github.com/mptcp-autopm/mptcp-autopm/watchers"
)

// A Fact is what the engine knows about one address of a snapshot: the Env
// the rules see, and why the address is not eligible.
type Fact struct {
	// Env is what rules evaluate; Env.Addr.Eligible is set when Reason is
	// empty.
	Env rules.Env
	// Addr is the address and Ifindex the link that holds it.
	Addr    netip.Addr
	Ifindex int
	// Reason says why the address is not eligible ("tentative", "no
	// carrier", "ula", "no default route for IPv6 via eth0"...); "" when
	// it is. Readiness is checked before hygiene, and only the first
	// failing check is named.
	Reason string
}

// Eligible reports whether the address passes readiness and hygiene.
func (f Fact) Eligible() bool { return f.Reason == "" }

// Facts builds one Fact per address of s, in the snapshot's order. Addresses
// of links missing from s are left out (a snapshot is consistent, so this
// only happens with a hand-made one).
//
// Host.Uplinks is the same for every Env: one entry per link and family
// with an eligible address of that family, in ifindex order. It never
// depends on the rules.
func Facts(s watchers.Snapshot, set rules.Settings) []Fact {
	links := make(map[int]watchers.Link, len(s.Links))
	for _, l := range s.Links {
		links[l.Index] = l
	}

	var facts []Fact
	for _, a := range s.Addrs {
		l, ok := links[a.Index]
		if !ok {
			continue
		}
		facts = append(facts, fact(s, links, l, a, set))
	}

	uplinks := Uplinks(facts)
	for i := range facts {
		facts[i].Env.Host.Uplinks = uplinks
	}

	return facts
}

func fact(s watchers.Snapshot, links map[int]watchers.Link,
	l watchers.Link, a watchers.Addr, set rules.Settings) Fact {
	ip := a.Prefix.Addr().Unmap()
	f := Fact{Addr: ip, Ifindex: a.Index}
	f.Env.Link = linkFacts(links, l, set.Types)
	f.Env.Addr = addrFacts(ip, a)
	n := subflowsOf(s.MPTCP, ip, a.Index)
	f.Env.Addr.Subflows, f.Env.Addr.SubflowsFailed = n.Established, n.Failed
	f.Env.Route = routeFacts(s.Routes, l.Index, f.Env.Addr.Family)
	f.Reason = ineligible(f.Env, set.Hygiene)
	f.Env.Addr.Eligible = f.Reason == ""

	return f
}

func linkFacts(links map[int]watchers.Link, l watchers.Link,
	types []rules.TypeOverride) rules.Link {
	lf := rules.Link{
		Name:      l.Name,
		Index:     l.Index,
		Type:      LinkType(l, types),
		Kind:      l.Kind,
		Up:        l.Up,
		Carrier:   l.Carrier,
		OperState: l.OperState,
		MTU:       l.MTU,
	}
	if m, ok := links[l.Master]; ok && l.Master != 0 {
		lf.Master = m.Name
	}

	return lf
}

// LinkType is the type of l: that of the first override whose glob matches
// its name (path.Match syntax), else the detected one.
func LinkType(l watchers.Link, types []rules.TypeOverride) string {
	for _, o := range types {
		if ok, _ := path.Match(o.Glob, l.Name); ok {
			return o.Type
		}
	}

	return l.Type
}

// ula is fc00::/7, the IPv6 unique local addresses (RFC 4193).
var ula = netip.MustParsePrefix("fc00::/7")

func addrFacts(ip netip.Addr, a watchers.Addr) rules.Addr {
	family := 6
	if ip.Is4() {
		family = 4
	}

	// IFA_F_TEMPORARY has the value of IFA_F_SECONDARY
	// (include/uapi/linux/if_addr.h), which the kernel sets on every IPv4
	// address after the first of its subnet on a link: only IPv6 has
	// temporary (privacy) addresses.
	return rules.Addr{
		IP:           ip.String(),
		Family:       family,
		PrefixLen:    a.Prefix.Bits(),
		Scope:        scopeName(a.Scope),
		LinkLocal:    ip.IsLinkLocalUnicast(),
		ULA:          ip.Is6() && ula.Contains(ip),
		Loopback:     ip.IsLoopback(),
		Temporary:    ip.Is6() && a.Flags&watchers.AddrTemporary != 0,
		Deprecated:   deprecated(a),
		Tentative:    a.Flags&watchers.AddrTentative != 0,
		DADFailed:    a.Flags&watchers.AddrDADFailed != 0,
		PreferredLft: lifetime(a.PreferredLft),
		ValidLft:     lifetime(a.ValidLft),
	}
}

// subflowsOf adds up what MPTCP events said about the subflows from ip on
// link ifindex, those whose event named no link included.
func subflowsOf(m watchers.MPTCPStats, ip netip.Addr,
	ifindex int) watchers.SubflowCount {
	var sum watchers.SubflowCount
	for k, n := range m.Subflows {
		if k.Addr.Unmap() != ip || (k.Ifindex != 0 && k.Ifindex != ifindex) {
			continue
		}
		sum.Established += n.Established
		sum.Closed += n.Closed
		sum.Failed += n.Failed
	}

	return sum
}

// deprecated: the kernel sets IFA_F_DEPRECATED when the preferred lifetime
// runs out, and an address added with preferred_lft 0 is deprecated at once.
func deprecated(a watchers.Addr) bool {
	return a.Flags&watchers.AddrDeprecated != 0 || a.PreferredLft == 0
}

func lifetime(s uint32) int {
	if s == watchers.Forever {
		return -1
	}

	return int(s)
}

// scopeName names RT_SCOPE_* as ip-address(8) does.
func scopeName(s uint8) string {
	switch s {
	case 0:
		return "global"
	case 200:
		return "site"
	case 253:
		return "link"
	case 254:
		return "host"
	}

	return fmt.Sprint(s)
}

// routeFacts looks at the default routes of family through ifindex, in
// every table. The linkdown mark is ignored on purpose: the kernel sets it
// when the link loses carrier, which readiness covers already, and it sends
// no route notification when it clears the mark again, so a snapshot could
// keep showing it after the carrier came back.
func routeFacts(routes []watchers.Route, ifindex, family int) rules.Route {
	rf := rules.Route{Metric: -1}
	for _, r := range routes {
		if !r.Default() || r.LinkIndex != ifindex || r.Family != family {
			continue
		}
		if rf.Default && r.Metric >= rf.Metric {
			continue
		}
		rf.Default = true
		rf.Metric = r.Metric
		rf.Gateway = ""
		if r.Gateway.IsValid() {
			rf.Gateway = r.Gateway.Unmap().String()
		}
	}

	return rf
}

// ineligible returns why the address of env may get no endpoint, or "".
func ineligible(env rules.Env, h rules.Hygiene) string {
	if r := unready(env); r != "" {
		return r
	}

	return unhygienic(env, h)
}

// unready checks readiness, which no setting relaxes: the kernel cannot
// use a tentative or DAD-failed address as a source, nor a link that is
// down or has no carrier.
func unready(env rules.Env) string {
	switch {
	case env.Addr.DADFailed:
		return "dad failed"
	case env.Addr.Tentative:
		return "tentative"
	case !env.Link.Up:
		return "link down"
	case !env.Link.Carrier:
		return "no carrier"
	}

	return ""
}

// unhygienic checks hygiene, each check relaxable by its setting.
func unhygienic(env rules.Env, h rules.Hygiene) string {
	a := env.Addr
	switch {
	case (a.Loopback || env.Link.Type == "loopback") && !h.AllowLoopback:
		return "loopback"
	case a.LinkLocal && !h.AllowLinkLocal:
		return "link-local"
	case a.ULA && !h.AllowULA:
		return "ula"
	case a.Temporary && !h.AllowTemporary:
		return "temporary"
	case a.Deprecated && !h.AllowDeprecated:
		return "deprecated"
	case !env.Route.Default && !h.AllowNoDefaultRoute:
		return fmt.Sprintf("no default route for IPv%d via %s",
			a.Family, env.Link.Name)
	}

	return ""
}

// Uplinks lists the usable uplinks among facts: one per link and family
// with an eligible address of that family, ordered by ifindex, then family.
func Uplinks(facts []Fact) []rules.Uplink {
	type uplink struct {
		index int
		up    rules.Uplink
	}
	var found []uplink
	for _, f := range facts {
		u := uplink{f.Ifindex, rules.Uplink{
			Name:   f.Env.Link.Name,
			Type:   f.Env.Link.Type,
			Family: f.Env.Addr.Family,
		}}
		if f.Eligible() && !slices.Contains(found, u) {
			found = append(found, u)
		}
	}

	slices.SortFunc(found, func(a, b uplink) int {
		return cmp.Or(cmp.Compare(a.index, b.index),
			cmp.Compare(a.up.Family, b.up.Family))
	})
	ups := make([]rules.Uplink, len(found))
	for i, u := range found {
		ups[i] = u.up
	}

	return ups
}
