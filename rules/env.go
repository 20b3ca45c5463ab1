package rules

// Env is what a rule's `when` expression sees for one address. Field names
// in expressions are the expr tags: `link.type == "wifi" && addr.family == 6`.
type Env struct {
	Link  Link  `expr:"link"`
	Addr  Addr  `expr:"addr"`
	Route Route `expr:"route"`
	Host  Host  `expr:"host"`
}

// Link holds the facts about the address's link.
type Link struct {
	Name      string `expr:"name"`
	Index     int    `expr:"index"`
	Type      string `expr:"type"` // wifi, wwan, ethernet, loopback, bridge, bond, vlan, veth, tunnel, ppp, other
	Kind      string `expr:"kind"` // rtnetlink kind ("veth", "bridge"), "" for hardware
	Up        bool   `expr:"up"`
	Carrier   bool   `expr:"carrier"`
	OperState string `expr:"operstate"`
	MTU       int    `expr:"mtu"`
	Master    string `expr:"master"` // name of the master device, "" if none
}

// Addr holds the facts about the address itself.
type Addr struct {
	IP         string `expr:"ip"`
	Family     int    `expr:"family"` // 4 or 6
	PrefixLen  int    `expr:"prefix_len"`
	Scope      string `expr:"scope"` // global, site, link, host
	LinkLocal  bool   `expr:"link_local"`
	ULA        bool   `expr:"ula"`
	Loopback   bool   `expr:"loopback"`
	Temporary  bool   `expr:"temporary"`
	Deprecated bool   `expr:"deprecated"`
	Tentative  bool   `expr:"tentative"`
	DADFailed  bool   `expr:"dad_failed"`
	// Lifetimes in seconds; -1 for an address that never expires.
	PreferredLft int `expr:"preferred_lft"`
	ValidLft     int `expr:"valid_lft"`
	// Eligible is set when the address passes readiness and hygiene.
	Eligible bool `expr:"eligible"`
	// Subflows counts the MPTCP subflows currently established from the
	// address on its link, and SubflowsFailed those closed with an error
	// since the daemon started; both are 0 without MPTCP events. A rule
	// that reads them is evaluated again on every change of the counts
	// (see Set.UsesMPTCP).
	Subflows       int `expr:"subflows"`
	SubflowsFailed int `expr:"subflows_failed"`
}

// Route holds the facts about routes of the address's family through its
// link.
type Route struct {
	Default bool   `expr:"default"` // a default route exists, in any table
	Metric  int    `expr:"metric"`  // lowest metric of those default routes, -1 if none
	Gateway string `expr:"gateway"` // gateway of that route, "" if none
}

// Host holds facts about the whole host.
type Host struct {
	// Uplinks are the usable uplinks: one entry per link and family with an
	// eligible address of that family. They never depend on the rules.
	Uplinks []Uplink `expr:"uplinks"`
}

// Uplink is one usable uplink.
type Uplink struct {
	Name   string `expr:"name"`
	Type   string `expr:"type"`
	Family int    `expr:"family"`
}
