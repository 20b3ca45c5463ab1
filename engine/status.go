package engine

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/mptcp-autopm/mptcp-autopm/pm"
	"github.com/mptcp-autopm/mptcp-autopm/watchers"
)

// Status is what the engine last saw and did, for `mptcp-autopm status`.
// It is plain data, encoded as JSON by the daemon's socket.
type Status struct {
	// Rules names where the rules came from; RulesError is set when the
	// last reload failed and the previous rules are still in use.
	Rules      string `json:"rules"`
	RulesError string `json:"rules_error,omitempty"`
	DryRun     bool   `json:"dry_run,omitempty"`

	// Seq is the sequence number of the snapshot last acted on.
	Seq uint64 `json:"snapshot_seq"`
	// LastReconcile is when the last reconcile ran and Trigger why
	// ("event", "reload", "resync", "retry", "rejoin", "plan").
	LastReconcile time.Time `json:"last_reconcile"`
	Trigger       string    `json:"trigger,omitempty"`
	// LastOps are the operations of the last reconcile that changed
	// something, made at LastChange (would-be operations in a dry run or a
	// plan).
	LastOps    []string  `json:"last_ops"`
	LastChange time.Time `json:"last_change"`

	Links     []LinkStatus     `json:"links"`
	Endpoints []EndpointStatus `json:"endpoints"`
	Limits    LimitsStatus     `json:"limits"`
	// LeftOut are wanted endpoints for which no slot was free.
	LeftOut []LeftOut `json:"left_out"`
	// Errors are the operations the kernel refused, waiting for a retry.
	Errors []ErrorStatus `json:"errors"`
	// Connections is the number of MPTCP connections seen in events.
	Connections int `json:"connections"`
	// Rejoins are our endpoints whose subflows all failed, due to be
	// added again so that the kernel tries them anew.
	Rejoins []RejoinStatus `json:"rejoins"`
}

// RejoinStatus is an endpoint due to be deleted and added again.
type RejoinStatus struct {
	Endpoint string `json:"endpoint"`
	Reason   string `json:"reason"`
	// Attempts counts the re-adds made since a subflow from it last
	// worked.
	Attempts int       `json:"attempts"`
	Due      time.Time `json:"due"`
}

// LinkStatus is one link and its addresses.
type LinkStatus struct {
	Name      string       `json:"name"`
	Index     int          `json:"index"`
	Type      string       `json:"type"`
	Kind      string       `json:"kind,omitempty"`
	Up        bool         `json:"up"`
	Carrier   bool         `json:"carrier"`
	OperState string       `json:"operstate"`
	Addrs     []AddrStatus `json:"addrs"`
}

// AddrStatus is one address: its facts, the verdict, and its endpoint.
type AddrStatus struct {
	Addr      string `json:"addr"`
	PrefixLen int    `json:"prefix_len"`
	Family    int    `json:"family"`
	Scope     string `json:"scope"`
	// Flags are the address facts that are set: tentative, dad_failed,
	// temporary, deprecated, link_local, ula, loopback.
	Flags        []string `json:"flags,omitempty"`
	DefaultRoute bool     `json:"default_route"`
	Metric       int      `json:"metric"`
	Gateway      string   `json:"gateway,omitempty"`
	Eligible     bool     `json:"eligible"`
	// Rule decided the endpoint; Why says why there is none.
	Rule string `json:"rule,omitempty"`
	Why  string `json:"why,omitempty"`
	// RuleError names the rules that failed to evaluate here.
	RuleError string `json:"rule_error,omitempty"`
	// Wanted are the flags of the endpoint the rules want, if any.
	Wanted   *string         `json:"wanted,omitempty"`
	Endpoint *EndpointStatus `json:"endpoint,omitempty"`
	Subflows SubflowStatus   `json:"subflows"`
}

// SubflowStatus counts the subflows from one address, from MPTCP events.
type SubflowStatus struct {
	Established int `json:"established"`
	Closed      int `json:"closed"`
	Failed      int `json:"failed"`
}

// EndpointStatus is one endpoint of the kernel's table.
type EndpointStatus struct {
	ID    uint8  `json:"id"`
	Addr  string `json:"addr"`
	Port  uint16 `json:"port,omitempty"`
	Flags string `json:"flags"`
	Dev   string `json:"dev,omitempty"`
	// Ours is set for endpoints the daemon made or adopted.
	Ours bool `json:"ours"`
	// Line is the endpoint as `ip mptcp endpoint show` prints it.
	Line string `json:"line"`
}

// LimitsStatus is the limits expected after the last reconcile, and how
// they were found.
type LimitsStatus struct {
	Subflows        uint32 `json:"subflows"`
	AddAddrAccepted uint32 `json:"add_addr_accepted"`
	How             string `json:"how"`
}

// LeftOut is a wanted endpoint that did not fit in the kernel's slots.
type LeftOut struct {
	Addr   string `json:"addr"`
	Dev    string `json:"dev,omitempty"`
	Flags  string `json:"flags"`
	Reason string `json:"reason"`
}

// ErrorStatus is an operation the kernel refused.
type ErrorStatus struct {
	Op        string    `json:"op"`
	Error     string    `json:"error"`
	Attempts  int       `json:"attempts"`
	NextRetry time.Time `json:"next_retry"`
}

// Status returns a copy of the engine's status.
func (e *Engine) Status() Status {
	e.mu.Lock()
	defer e.mu.Unlock()

	st := e.status
	st.LastOps = slices.Clone(st.LastOps)
	st.Rejoins = slices.Clone(st.Rejoins)

	return st
}

// view is one evaluation of a snapshot: facts, choices and staleness.
type view struct {
	snap      watchers.Snapshot
	facts     []Fact
	choices   []Choice
	wanted    []pm.Endpoint
	stale     *staleness
	limitsHow string
	// held are the keys of refused operations waiting for their retry.
	held map[string]bool
	// rejoins are the keys of the endpoints deleted and added again
	// because their subflows failed.
	rejoins map[pm.Key]bool
}

// ifname names ifindex i as the snapshot does, "" when unknown.
func (v *view) ifname(i int32) string {
	for _, l := range v.snap.Links {
		if int32(l.Index) == i {
			return l.Name
		}
	}

	return ""
}

// reason explains an operation on e: the deciding rule for a wanted
// endpoint, the staleness reason otherwise.
func (v *view) reason(e pm.Endpoint) string {
	if v.rejoins[e.Key()] {
		return "re-add"
	}
	for _, c := range v.choices {
		if c.Endpoint != nil && c.Endpoint.Key() == e.Key() {
			return "rule " + c.Rule
		}
	}
	if r := v.stale.Reason(e); r != "" {
		return r
	}

	return "not wanted"
}

func (v *view) opText(o pm.Op) string {
	why := v.limitsHow
	if o.Kind != pm.OpSetLimits {
		why = v.reason(o.Endpoint)
	}

	return opText(o, v.ifname, why)
}

func (v *view) opsTexts(ops []pm.Op) []string {
	texts := make([]string, len(ops))
	for i, o := range ops {
		texts[i] = v.opText(o)
	}

	return texts
}

func (v *view) opsText(ops []pm.Op) string {
	return strings.Join(v.opsTexts(ops), "; ")
}

// opText formats an operation for logs and the status, e.g. "add
// 192.0.2.10 subflow dev eth0 (rule other)" or "change 198.51.100.20 id 2
// nobackup (rule wifi)".
func opText(o pm.Op, ifname func(int32) string, why string) string {
	var s string
	e := o.Endpoint
	switch o.Kind {
	case pm.OpAdd:
		s = "add " + endpointText(e, ifname, false)
	case pm.OpDelete:
		s = "delete " + endpointText(e, ifname, true)
	case pm.OpSetFlags:
		s = fmt.Sprintf("change %s id %d %s", e.Addr, e.ID, inPlace(e.Flags))
	case pm.OpSetLimits:
		s = "limits " + o.Limits.String()
	default:
		s = o.String()
	}
	if why != "" {
		s += " (" + why + ")"
	}

	return s
}

func inPlace(f pm.Flags) string {
	s := "nobackup"
	if f.Has(pm.FlagBackup) {
		s = "backup"
	}
	if f.Has(pm.FlagFullmesh) {
		return s + " fullmesh"
	}

	return s
}

// endpointText formats e as `ip mptcp endpoint show` does, with the id
// only when asked.
func endpointText(e pm.Endpoint, ifname func(int32) string, id bool) string {
	s := e.Format(ifname)
	if !id {
		s = strings.Replace(s, fmt.Sprintf(" id %d", e.ID), "", 1)
	}

	return s
}

// record stores the outcome of a reconcile in the status.
func (e *Engine) record(v *view, why string, res pm.Result,
	table []pm.Endpoint) {
	now := time.Now()
	st := Status{
		Seq:           v.snap.Seq,
		LastReconcile: now,
		Trigger:       why,
		Connections:   v.snap.MPTCP.Connections,
		Limits: LimitsStatus{
			Subflows:        res.Plan.Limits.Subflows,
			AddAddrAccepted: res.Plan.Limits.AddAddrAccepted,
			How:             v.limitsHow,
		},
		LeftOut: v.leftOut(res.Plan.LeftOut),
		Errors:  e.errorStatus(),
	}
	eps := e.endpointStatus(v, table)
	st.Endpoints = eps
	st.Links = v.linkStatus(eps)

	ops := res.Applied
	if e.cfg.DryRun || why == "plan" {
		ops = res.Plan.Ops
	}
	texts := v.opsTexts(ops)

	e.mu.Lock()
	defer e.mu.Unlock()

	st.Rules, st.RulesError = e.status.Rules, e.status.RulesError
	st.DryRun = e.status.DryRun
	st.Rejoins = e.status.Rejoins
	st.LastOps, st.LastChange = e.status.LastOps, e.status.LastChange
	if len(ops) > 0 {
		st.LastOps, st.LastChange = texts, now
	}
	e.status = st
}

// recordError stores a reconcile that could not even read the kernel.
func (e *Engine) recordError(v *view, why string, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()

	e.status.LastReconcile = time.Now()
	e.status.Trigger = why
	e.status.Seq = v.snap.Seq
	e.status.Errors = []ErrorStatus{{Op: "reconcile", Error: err.Error()}}
}

func (e *Engine) errorStatus() []ErrorStatus {
	errs := []ErrorStatus{}
	for _, f := range e.failures {
		errs = append(errs, ErrorStatus{
			Op: f.op, Error: f.err.Error(),
			Attempts: f.attempts, NextRetry: f.next,
		})
	}
	slices.SortFunc(errs, func(a, b ErrorStatus) int {
		return strings.Compare(a.Op, b.Op)
	})

	return errs
}

func (e *Engine) endpointStatus(v *view, table []pm.Endpoint) []EndpointStatus {
	eps := make([]EndpointStatus, 0, len(table))
	for _, t := range table {
		eps = append(eps, EndpointStatus{
			ID:    t.ID,
			Addr:  t.Addr.String(),
			Port:  t.Port,
			Flags: t.Flags.String(),
			Dev:   devName(v, t.Ifindex),
			Ours:  e.ownedHas(t.Key()),
			Line:  t.Format(v.ifname),
		})
	}

	return eps
}

func devName(v *view, i int32) string {
	if i == 0 {
		return ""
	}
	if n := v.ifname(i); n != "" {
		return n
	}

	return fmt.Sprintf("if%d", i)
}

// leftOut explains the wanted endpoints that found no slot.
func (v *view) leftOut(eps []pm.Endpoint) []LeftOut {
	out := make([]LeftOut, 0, len(eps))
	for _, e := range eps {
		out = append(out, LeftOut{
			Addr:  e.Addr.String(),
			Dev:   devName(v, e.Ifindex),
			Flags: e.Flags.String(),
			Reason: fmt.Sprintf("all %d endpoint slots taken by "+
				"endpoints of higher priority", pm.MaxEndpoints),
		})
	}

	return out
}

func (v *view) linkStatus(eps []EndpointStatus) []LinkStatus {
	links := make([]LinkStatus, 0, len(v.snap.Links))
	for _, l := range v.snap.Links {
		ls := LinkStatus{
			Name: l.Name, Index: l.Index, Kind: l.Kind, Up: l.Up,
			Carrier: l.Carrier, OperState: l.OperState, Type: l.Type,
		}
		for _, c := range v.choices {
			if c.Ifindex == l.Index {
				ls.Type = c.Env.Link.Type
				ls.Addrs = append(ls.Addrs, v.addrStatus(c, eps))
			}
		}
		links = append(links, ls)
	}

	return links
}

func (v *view) addrStatus(c Choice, eps []EndpointStatus) AddrStatus {
	a, r := c.Env.Addr, c.Env.Route
	as := AddrStatus{
		Addr: a.IP, PrefixLen: a.PrefixLen, Family: a.Family,
		Scope: a.Scope, Flags: addrFlags(c), DefaultRoute: r.Default,
		Metric: r.Metric, Gateway: r.Gateway, Eligible: c.Eligible(),
		Rule: c.Rule, Why: c.Why, RuleError: c.RuleError,
		Subflows: v.subflows(c),
	}
	if c.Endpoint != nil {
		f := c.Endpoint.Flags.String()
		as.Wanted = &f
	}
	for i := range eps {
		if eps[i].Addr == a.IP {
			as.Endpoint = &eps[i]
		}
	}

	return as
}

func addrFlags(c Choice) []string {
	a := c.Env.Addr
	var flags []string
	for _, f := range []struct {
		set  bool
		name string
	}{
		{a.Tentative, "tentative"}, {a.DADFailed, "dad_failed"},
		{a.Temporary, "temporary"}, {a.Deprecated, "deprecated"},
		{a.LinkLocal, "link_local"}, {a.ULA, "ula"},
		{a.Loopback, "loopback"},
	} {
		if f.set {
			flags = append(flags, f.name)
		}
	}

	return flags
}

// subflows adds up the subflows from c's address, whether the event named
// the interface or not.
func (v *view) subflows(c Choice) SubflowStatus {
	return subflowStatus(v.snap.MPTCP, c.Addr, c.Ifindex)
}

func subflowStatus(m watchers.MPTCPStats, ip netip.Addr,
	ifindex int) SubflowStatus {
	n := subflowsOf(m, ip, ifindex)

	return SubflowStatus{Established: n.Established, Closed: n.Closed,
		Failed: n.Failed}
}

// recordMPTCP updates the MPTCP counts of the status from s, a snapshot
// whose links, addresses and routes are those of the last reconcile. The
// status is copied on write: readers may hold the old one.
func (e *Engine) recordMPTCP(s watchers.Snapshot) {
	e.mu.Lock()
	defer e.mu.Unlock()

	links := slices.Clone(e.status.Links)
	for i := range links {
		addrs := slices.Clone(links[i].Addrs)
		for j := range addrs {
			ip, err := netip.ParseAddr(addrs[j].Addr)
			if err != nil {
				continue
			}

			addrs[j].Subflows = subflowStatus(s.MPTCP, ip, links[i].Index)
		}
		links[i].Addrs = addrs
	}
	e.status.Links = links
	e.status.Connections = s.MPTCP.Connections
}
