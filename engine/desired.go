package engine

import (
	"cmp"
	"fmt"
	"math"
	"net/netip"
	"slices"

	"github.com/mptcp-autopm/mptcp-autopm/pm"
	"github.com/mptcp-autopm/mptcp-autopm/rules"
	"github.com/mptcp-autopm/mptcp-autopm/watchers"
)

// A Decider decides the endpoint of an address; *rules.Set is one.
// UsesMPTCP reports whether a decision may read the MPTCP facts
// (addr.subflows, addr.subflows_failed); when it does not, a snapshot in
// which only MPTCP counts changed updates the status without a reconcile.
type Decider interface {
	Decide(env *rules.Env) (rules.Decision, error)
	Settings() rules.Settings
	UsesMPTCP() bool
}

// A Choice is the verdict on one address.
type Choice struct {
	Fact
	// Rule is the rule that decided, "" when the address is not eligible
	// or no rule matched.
	Rule string
	// Endpoint is the endpoint wanted for the address (ID 0, Ifindex its
	// link), nil when it gets none.
	Endpoint *pm.Endpoint
	// Why says why the address gets no endpoint: its Reason when it is not
	// eligible, "skipped by rule R", "no rule matched", or the rules'
	// error. "" when Endpoint is set.
	Why string
	// RuleError holds the rules that failed to evaluate for this address.
	// A failing rule counts as not matching: the next rules still decide,
	// so one broken expression cannot take every endpoint away.
	RuleError string
}

// Choose asks d about every eligible address of facts. It returns one
// Choice per fact, in the same order, and the wanted endpoints in priority
// order (see Priority).
//
// When one address is on two links, the link that comes first in priority
// order gets the endpoint: the kernel keeps one endpoint per address.
func Choose(facts []Fact, d Decider) ([]Choice, []pm.Endpoint) {
	choices := make([]Choice, len(facts))
	var wanted []int
	for i, f := range facts {
		choices[i] = choose(f, d)
		if choices[i].Endpoint != nil {
			wanted = append(wanted, i)
		}
	}

	slices.SortStableFunc(wanted, func(a, b int) int {
		return Priority(choices[a], choices[b])
	})

	var eps []pm.Endpoint
	for _, i := range wanted {
		e := *choices[i].Endpoint
		if j := slices.IndexFunc(eps, keyIs(e.Key())); j >= 0 {
			choices[i].Endpoint = nil
			choices[i].Why = fmt.Sprintf("address already has an endpoint on if%d",
				eps[j].Ifindex)
			continue
		}
		eps = append(eps, e)
	}

	return choices, eps
}

func keyIs(k pm.Key) func(pm.Endpoint) bool {
	return func(e pm.Endpoint) bool { return e.Key() == k }
}

func choose(f Fact, d Decider) Choice {
	c := Choice{Fact: f}
	if !f.Eligible() {
		c.Why = f.Reason
		return c
	}

	env := f.Env
	dec, err := d.Decide(&env)
	c.Rule = dec.Rule
	if err != nil {
		c.RuleError = err.Error()
	}
	switch {
	case dec.Rule == "":
		c.Why = "no rule matched"
	case dec.Skip:
		c.Why = fmt.Sprintf("skipped by rule %s", dec.Rule)
	default:
		c.Endpoint = &pm.Endpoint{
			Addr:    f.Addr,
			Port:    dec.Port,
			Flags:   dec.Flags,
			Ifindex: int32(f.Ifindex),
		}
	}

	return c
}

// typeRank orders link types for the 8 endpoint slots: wired first, then
// anything else, then Wi-Fi, then cellular (often metered).
func typeRank(t string) int {
	switch t {
	case "ethernet":
		return 0
	case "wifi":
		return 2
	case "wwan":
		return 3
	}

	return 1
}

// Priority orders two wanted endpoints for the kernel's 8 slots; the first
// ones are kept when more are wanted. The order is: non-backup before
// backup; then by link type, ethernet before other types before wifi
// before wwan; then the lower default route metric, addresses without a
// default route (eligible when hygiene allows it) last; then IPv4 before
// IPv6; then the lower ifindex; then the lower address.
func Priority(a, b Choice) int {
	ea, eb := a.Endpoint, b.Endpoint

	return cmp.Or(
		cmp.Compare(backupRank(ea.Flags), backupRank(eb.Flags)),
		cmp.Compare(typeRank(a.Env.Link.Type), typeRank(b.Env.Link.Type)),
		cmp.Compare(metricRank(a.Env.Route), metricRank(b.Env.Route)),
		cmp.Compare(a.Env.Addr.Family, b.Env.Addr.Family),
		cmp.Compare(a.Ifindex, b.Ifindex),
		ea.Addr.Compare(eb.Addr),
		cmp.Compare(ea.Port, eb.Port),
	)
}

// metricRank is the metric of r's default route; none ranks after any.
// Route.Metric is -1 without a default route, which would rank first.
func metricRank(r rules.Route) int {
	if !r.Default {
		return math.MaxInt
	}

	return r.Metric
}

func backupRank(f pm.Flags) int {
	if f.Has(pm.FlagBackup) {
		return 1
	}

	return 0
}

// staleness decides which kernel endpoints that the rules do not want must
// go. Endpoints of wanted keys never reach it.
type staleness struct {
	links     map[int32]bool
	addrs     map[netip.Addr]Choice
	held      map[heldAddr]bool // which link holds which address
	ours      func(pm.Key) bool
	manageAll bool
}

// heldAddr is an address on one link.
type heldAddr struct {
	addr    netip.Addr
	ifindex int32
}

func newStaleness(s watchers.Snapshot, choices []Choice,
	ours func(pm.Key) bool, manageAll bool) *staleness {
	st := &staleness{
		links:     map[int32]bool{},
		addrs:     map[netip.Addr]Choice{},
		held:      map[heldAddr]bool{},
		ours:      ours,
		manageAll: manageAll,
	}
	for _, l := range s.Links {
		st.links[int32(l.Index)] = true
	}
	for _, a := range s.Addrs {
		ip := a.Prefix.Addr().Unmap()
		if _, ok := st.addrs[ip]; !ok {
			st.addrs[ip] = Choice{}
		}
		st.held[heldAddr{ip, int32(a.Index)}] = true
	}
	for _, c := range choices {
		st.addrs[c.Addr] = c
	}

	return st
}

// Reason says why e must be deleted, "" when it stays.
//
// Dead endpoints are always collected, whoever made them: bound to an
// ifindex that no longer exists, for an address that is on no link,
// implicit ones included, or bound to a link that no longer holds the
// address (it moved to another link). One exception: someone else's
// endpoint carrying signal for an address on no link stays, for it may
// announce a public address behind 1:1 NAT; ours, or any with ManageAll,
// go with their address.
//
// An endpoint of a live address that the rules skip or that is not
// eligible is deleted only when it is ours, or with ManageAll.
func (st *staleness) Reason(e pm.Endpoint) string {
	if e.Ifindex != 0 && !st.links[e.Ifindex] {
		return fmt.Sprintf("interface if%d gone", e.Ifindex)
	}

	ip := e.Addr.Unmap()
	c, live := st.addrs[ip]
	switch {
	case !live && e.Flags.Has(pm.FlagSignal) && !st.managed(e):
		return ""
	case !live:
		return "address gone"
	case e.Ifindex != 0 && !st.held[heldAddr{ip, e.Ifindex}]:
		return fmt.Sprintf("address no longer on if%d", e.Ifindex)
	case !st.managed(e):
		return ""
	case c.Why != "":
		return c.Why
	}

	return "not wanted"
}

// managed reports whether the engine may delete e when it is not wanted:
// it is ours, or ManageAll is set.
func (st *staleness) managed(e pm.Endpoint) bool {
	return st.manageAll || (st.ours != nil && st.ours(e.Key()))
}

// Stale reports whether e must be deleted; see Reason.
func (st *staleness) Stale(e pm.Endpoint) bool { return st.Reason(e) != "" }

// AutoLimits computes the automatic limits for an endpoint table, foreign
// endpoints included. With S endpoints carrying subflow, F fullmesh and G
// signal: add_addr_accepted is 2 when S > 0, else 0, and subflows is
// min(8, max(2, S + add_addr_accepted*max(1, F) + 2*G)). It also returns
// how the values were found, for the status.
func AutoLimits(table []pm.Endpoint) (pm.Limits, string) {
	var s, f, g uint32
	for _, e := range table {
		if e.Flags.Has(pm.FlagSubflow) {
			s++
		}
		if e.Flags.Has(pm.FlagFullmesh) {
			f++
		}
		if e.Flags.Has(pm.FlagSignal) {
			g++
		}
	}

	var l pm.Limits
	if s > 0 {
		l.AddAddrAccepted = 2
	}
	l.Subflows = min(pm.MaxLimit,
		max(2, s+l.AddAddrAccepted*max(1, f)+2*g))
	how := fmt.Sprintf("auto: subflow=%d fullmesh=%d signal=%d", s, f, g)

	return l, how
}

// wantLimits applies the limits settings to table: nil for a limit that is
// kept, else its value. It also says how each was found.
func wantLimits(set rules.LimitsSetting, table []pm.Endpoint) (
	subflows, addAddr *uint32, how string) {
	auto, autoHow := AutoLimits(table)
	subflows, hs := limitWant(set.Subflows, auto.Subflows, autoHow)
	addAddr, ha := limitWant(set.AddAddrAccepted, auto.AddAddrAccepted, autoHow)
	if set.Subflows.Mode == rules.LimitAuto &&
		set.AddAddrAccepted.Mode == rules.LimitAuto {
		return subflows, addAddr, autoHow
	}

	return subflows, addAddr,
		fmt.Sprintf("subflows %s; add_addr_accepted %s", hs, ha)
}

func limitWant(l rules.Limit, auto uint32, autoHow string) (*uint32, string) {
	switch l.Mode {
	case rules.LimitKeep:
		return nil, "keep"
	case rules.LimitFixed:
		v := l.Value
		return &v, fmt.Sprintf("fixed %d", v)
	}

	return &auto, fmt.Sprintf("%d (%s)", auto, autoHow)
}
